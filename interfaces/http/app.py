"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from interfaces.container import Container
from interfaces.http import health, students
from interfaces.http.housekeeping import every
from interfaces.http.problems import install_problem_handlers


def create_app(container: Container | None = None) -> FastAPI:
    container = container or Container()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await container.init_resources()  # type: ignore[misc]
        interval = container.settings().idempotency_purge_interval
        purge = None
        if interval:
            purge = asyncio.create_task(
                every(interval, lambda: container.purge_idempotency_keys().execute(), "idempotency purge")
            )
        try:
            yield
        finally:
            if purge is not None:
                purge.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purge
            await container.shutdown_resources()  # type: ignore[misc]

    app = FastAPI(
        title="Students service",
        version="0.1.0",
        summary="Student records: name, email, department and CGPA, kept in a relational database.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hooks look up the global providers on every request even
        # when nothing is configured; this service reports through its own logs and metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = container
    install_problem_handlers(app)
    app.include_router(students.router)
    app.include_router(health.router)
    return app
