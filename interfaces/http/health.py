"""Liveness, readiness and metrics: what process managers, load balancers and Prometheus ask."""

# No "from __future__ import annotations" here: FastAPI reads the Annotated markers from the live
# signature, so the annotations must be real objects.

from typing import Annotated, Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from infrastructure.migrations import head_revision
from infrastructure.observability import metrics
from infrastructure.sqlalchemy.faults import throttled
from infrastructure.sqlalchemy.health import DatabaseProbe, DatabaseUnavailable
from interfaces.container import Container
from interfaces.http.operations import Operation, public, refuses
from interfaces.http.problems import RETRY_LATER, RETRY_SOON, problem
from interfaces.http.rendering import JsonResponse
from interfaces.http.requests import uses
from interfaces.lifecycle import Lifecycle

router = APIRouter(tags=["operations"], route_class=Operation)
# The revision this code's migrations end at; read from the installed scripts once per process.
_EXPECTED_REVISION = head_revision()

Probe = Annotated[DatabaseProbe, uses(Container.database_probe)]
ThisProcess = Annotated[Lifecycle, uses(Container.lifecycle)]


_REVISION: dict[str, Any] = {"type": "string", "pattern": "^[0-9A-Za-z_]{1,32}$", "maxLength": 32}
_ALIVE: dict[str, Any] = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["ok"]}},
    "required": ["status"],
}
_READY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ready"]},
        "database_revision": {**_REVISION, "description": "the migration the database is at"},
        "expected_revision": {**_REVISION, "description": "the last migration this code knows"},
    },
    "required": ["status", "database_revision", "expected_revision"],
}
_METRICS_EXAMPLE = """\
# HELP http_requests_total HTTP requests answered
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/students/{student_id}",status="200"} 1027.0
"""


def _json(schema: dict[str, Any], example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"schema": schema, "example": example}}}}


@router.get(
    "/healthz",
    operation_id="check_liveness",
    summary="The process is alive",
    responses=_json(_ALIVE, {"status": "ok"}),
)
@public
async def healthz() -> Response:
    """200 while the process runs; for liveness probes. Needs no token."""
    return JsonResponse({"status": "ok"})


@router.get(
    "/readyz",
    operation_id="check_readiness",
    summary="Ready for traffic: not shutting down, the database answers and is migrated",
    responses=_json(
        _READY,
        {"status": "ready", "database_revision": _EXPECTED_REVISION, "expected_revision": _EXPECTED_REVISION},
    ),
)
@public
@refuses(503)
async def readyz(request: Request, probe: Probe, lifecycle: ThisProcess) -> Response:
    """200 when this process can serve: the database answers and is migrated, and the process is not
    shutting down; else 503. For readiness probes and balancers. Needs no token."""
    if lifecycle.draining:
        # Still serving, but on its way out: a balancer that polls this sends its clients elsewhere.
        return problem(
            request, 503, "shutting-down", "this server process is shutting down", headers=RETRY_SOON
        )
    try:
        state = await probe.state()
    except DatabaseUnavailable as exc:
        # The reason (which may name a host or a driver) goes to the log, not to the caller; once a
        # second at most, since anyone may poll this.
        throttled.warn("not-ready", f"not ready: {exc}")
        detail = "the database did not answer in time" if exc.slow else "the database cannot be reached"
        return problem(request, 503, "database-unavailable", detail, headers=RETRY_SOON)
    revision = state.revision
    if revision is None:
        return problem(
            request,
            503,
            "database-not-migrated",
            "the database has no schema yet; run `students migrate`",
            headers=RETRY_LATER,
        )
    if not state.writable:
        return problem(
            request, 503, "database-read-only", "the database accepts no changes now", headers=RETRY_LATER
        )
    # A revision other than the expected one is still served: during a rolling deploy the
    # database is migrated ahead of the processes still running the previous release.
    return JsonResponse(
        {"status": "ready", "database_revision": revision, "expected_revision": _EXPECTED_REVISION}
    )


@router.get(
    "/metrics",
    operation_id="read_metrics",
    summary="Prometheus metrics of every server process",
    response_class=Response,
    responses={
        200: {
            "content": {
                metrics.CONTENT_TYPE.split(";")[0]: {
                    "schema": {"type": "string"},
                    "example": _METRICS_EXAMPLE,
                }
            }
        }
    },
)
@public
async def read_metrics() -> Response:
    """Prometheus metrics of this process (or of all workers of `students serve --workers N`). Needs no
    token."""
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
