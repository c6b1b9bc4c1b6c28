"""Liveness and readiness probes for process managers and load balancers."""

# No "from __future__ import annotations" here: dependency-injector reads the Annotated markers
# from the live signature, so the annotations must be real objects.

from typing import Annotated

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from infrastructure.sqlalchemy.health import DatabaseProbe, DatabaseUnavailable
from interfaces.container import Container
from interfaces.http.injection import Provide
from interfaces.http.problems import problem
from interfaces.http.rendering import JsonResponse
from interfaces.http.schemas import problem_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="check_liveness", summary="The process is alive")
async def healthz() -> Response:
    return JsonResponse({"status": "ok"})


@router.get(
    "/readyz",
    operation_id="check_readiness",
    summary="The database answers; reports its migration revision",
    responses=problem_responses(503),
)
@inject
async def readyz(
    request: Request,
    probe: Annotated[DatabaseProbe, Depends(Provide[Container.database_probe])],
) -> Response:
    try:
        revision = await probe.revision()
    except DatabaseUnavailable:
        return problem(request, 503, "database-unavailable", "the database did not answer in time")
    return JsonResponse({"status": "ready", "database_revision": revision})
