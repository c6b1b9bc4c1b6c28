"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from interfaces.container import Container
from interfaces.http import health, students
from interfaces.http.problems import install_problem_handlers


def create_app(container: Container | None = None) -> FastAPI:
    container = container or Container()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await container.init_resources()  # type: ignore[misc]
        try:
            yield
        finally:
            await container.shutdown_resources()  # type: ignore[misc]

    app = FastAPI(
        title="Students service",
        version="0.1.0",
        summary="Student records: name, email, department and CGPA, kept in a relational database.",
        lifespan=lifespan,
    )
    app.state.container = container
    install_problem_handlers(app)
    app.include_router(students.router)
    app.include_router(health.router)
    return app
