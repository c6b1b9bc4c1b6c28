"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from infrastructure.observability.logging import access_line_writer
from infrastructure.sqlalchemy.faults import quiet_lost_connections
from interfaces.container import Container
from interfaces.http import bulk, docs, health, students
from interfaces.http.cors import Cors
from interfaces.http.draining import Draining
from interfaces.http.head import HeadAsGet
from interfaces.http.hosts import AllowedHosts, host_policy
from interfaces.http.housekeeping import every
from interfaces.http.injection import bind_providers
from interfaces.http.limits import BodySizeLimit
from interfaces.http.links import install_links
from interfaces.http.observability import REQUEST_ID_HEADER, RequestObservation
from interfaces.http.openapi import install_openapi
from interfaces.http.problems import install_problem_handlers
from interfaces.http.rate_limit import RateLimit, address_of, caller_of
from interfaces.http.root_path import RootPath, collides
from interfaces.http.schemas import Problem
from interfaces.http.security import BearerAuthentication, ProtectiveHeaders, public_paths
from interfaces.version import version

# Headers a browser client on another origin may send, and may read from our answers.
_CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    REQUEST_ID_HEADER,
]
_CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Link",
    "Idempotent-Replayed",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    REQUEST_ID_HEADER,
]


# Every router of the API, in the order of the document. A new resource is one more entry here.
# In matching order: the student routes, on the hot path, first (students.NOT_IDS).
RESOURCES = (students, bulk, health, docs)
# Called by orchestrators and scrapers by address: no Host check (interfaces/http/hosts.py).
_OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def check_root_path(prefix: str) -> None:
    """Refuse a prefix that is also the first segment of a route: /students/x would be ambiguous."""
    clash = collides(prefix, (route.path for resource in RESOURCES for route in resource.router.routes))
    if clash is not None:
        raise ValueError(f"the prefix {prefix} is the service's own route {clash}; choose another")


def create_app(container: Container | None = None, *, served_host: str | None = None) -> FastAPI:
    """The app. ``served_host``: where ``students serve`` listens, for the default ALLOWED_HOSTS."""
    container = container or Container()
    settings = container.settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        quiet_lost_connections(asyncio.get_running_loop())
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
        version=version(),
        summary="Student records: name, email, department and CGPA, kept in a relational database.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hooks look up the global providers on every request even
        # when nothing is configured; this service reports through its own logs and metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # The stock pages load their scripts from a CDN; interfaces/http/docs.py serves them, and
        # the document, itself.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Paths are exact: /students/ is not /students, and nothing redirects (a redirect would
        # name a host, and the only host a request brings is the one its client chose).
        redirect_slashes=False,
    )
    app.state.container = container
    install_links(app, settings.public_base_url)
    install_problem_handlers(app)
    for resource in RESOURCES:
        # The routes themselves, not an included router: each request then walks one list.
        app.router.routes.extend(resource.router.routes)
    bind_providers(app, container)
    larger_bodies = {str(bulk.router.url_path_for("import_students")): settings.import_max_bytes}
    install_openapi(
        app,
        Problem,
        public_base_url=settings.public_base_url or settings.root_path or None,
        environment=settings.environment,
        rate_limit_exempt=_OPERATIONS_PATHS if settings.rate_limit_enabled else None,
        streamed_body_limits=larger_bodies,
        root_path=settings.root_path,
    )

    # Pure ASGI middleware; the last added is the outermost.
    app.add_middleware(HeadAsGet)
    if settings.rate_limit_enabled:
        # Inside authentication: the caller's budget (an address's, on a public path).
        app.add_middleware(
            RateLimit, budget=container.caller_budget(), key=caller_of, exempt_paths=_OPERATIONS_PATHS
        )
    paths, prefixes = public_paths(app.routes)
    app.add_middleware(
        BearerAuthentication,
        verifier=container.token_verifier(),
        public_paths=paths,
        public_prefixes=prefixes,
    )
    if settings.rate_limit_enabled:
        # Before authentication: the client address's, so that a flood costs no token check.
        app.add_middleware(
            RateLimit, budget=container.address_budget(), key=address_of, exempt_paths=_OPERATIONS_PATHS
        )
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        larger=larger_bodies,
    )
    if settings.cors_origins:
        # Outside authentication: a browser's preflight request carries no token.
        app.add_middleware(
            Cors,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=_CORS_REQUEST_HEADERS,
            expose_headers=_CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(
        AllowedHosts,
        policy=host_policy(settings.allowed_hosts, settings.public_base_url, served_host),
        exempt_paths=_OPERATIONS_PATHS,
    )
    app.add_middleware(Draining, lifecycle=container.lifecycle())
    # Outside everything that answers on its own (CORS, 413, 401) so that every answer, its 500s
    # included, carries a request id, is logged and counted, and has the protective headers.
    logs_requests = settings.access_log and settings.log_level in ("DEBUG", "INFO")
    access_log = access_line_writer("students.access", settings.log_format) if logs_requests else None
    app.add_middleware(RequestObservation, access_log=access_log)
    app.add_middleware(ProtectiveHeaders)
    if settings.root_path:
        check_root_path(settings.root_path)
        app.add_middleware(RootPath, prefix=settings.root_path)
    return app
