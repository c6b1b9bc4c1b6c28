"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from interfaces.container import Container
from interfaces.http import health, students
from interfaces.http.housekeeping import every
from interfaces.http.limits import BodySizeLimit
from interfaces.http.problems import install_problem_handlers
from interfaces.http.security import BearerAuthentication, ProtectiveHeaders

# Headers a browser client on another origin may send, and may read from our answers.
_CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"]
_CORS_EXPOSED_HEADERS = ["ETag", "Location", "Link", "Idempotent-Replayed", "Retry-After"]


def create_app(container: Container | None = None) -> FastAPI:
    container = container or Container()
    settings = container.settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await container.init_resources()  # type: ignore[misc]
        interval = settings.idempotency_purge_interval
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

    # Pure ASGI middleware; the last added is the outermost.
    public = {"/healthz", "/readyz", "/metrics", app.openapi_url, app.docs_url, app.redoc_url}
    public.add(app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(
        BearerAuthentication,
        verifier=container.token_verifier(),
        public_paths={path for path in public if path},
    )
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(ProtectiveHeaders, private_prefix=students.router.prefix)
    if settings.cors_origins:
        # Outside authentication: a browser's preflight request carries no token.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=_CORS_REQUEST_HEADERS,
            expose_headers=_CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    return app
