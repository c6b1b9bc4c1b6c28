"""Where one request's CPU goes: the service's parts measured in process, one request at a time.

``make bench-inprocess`` (or ``python -m bench.inprocess``) drives the ASGI app directly, without
uvicorn or sockets, against the suite's PostgreSQL database (prepared as ``make bench`` prepares
it), and reports CPU time per request of this process (``time.process_time``: user and system,
PostgreSQL's own work excluded), the best of ``ROUNDS`` rounds of ``REQUESTS`` each:

- the whole app answering ``GET /students/{id}`` and ``GET /students?limit=50``;
- the app around a use-case that returns a student without any I/O: routing, dependency
  resolution, middleware, the access line and rendering, nothing of the database;
- the ``GetStudent`` use-case with its unit of work, as the container builds it, without the app;
- asyncpg alone: a prepared ``fetchrow`` on one connection, and ``fetchrow`` through an asyncpg pool.

Serial requests show costs that a loaded server spreads over many requests (one wake-up of the
event loop per round trip), so the figures are for comparing the parts and before/after a change,
not for predicting requests/s; that is what ``make bench`` is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import uvloop

from bench import database
from bench.apps.raw import BY_ID
from bench.config import BENCH_DSN, RESULTS_DIR, SERVICE_ENV
from bench.metadata import cpu_model, git_state, package_version
from infrastructure.auth.tokens import TokenIssuer

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
WARM_UP = 300
IDS = 2000

Call = Callable[[int], Awaitable[object]]


async def _cpu_per_call(call: Call) -> float:
    """Microseconds of this process's CPU per call: the best of ROUNDS rounds after a warm-up."""
    for i in range(WARM_UP):
        await call(i)
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for i in range(REQUESTS):
            await call(i)
        best = min(best, time.process_time() - started)
    return best / REQUESTS * 1e6


def _asgi_get(app: Any, token: str) -> Callable[[str], Awaitable[int]]:
    """A GET through the ASGI app as uvicorn would make it; returns the status."""
    headers = [(b"host", b"localhost"), (b"authorization", f"Bearer {token}".encode())]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def get(target: str) -> int:
        path, _, query = target.partition("?")
        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)
        if status != [200]:
            raise SystemExit(f"bench: GET {target} answered {status}, not 200")
        return status[0]

    return get


@contextlib.asynccontextmanager
async def _running(app: Any) -> AsyncIterator[None]:
    """The app's lifespan: the container's resources are started before and disposed after."""
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started, stopped = asyncio.Event(), asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind.endswith(".failed"):
            raise SystemExit(f"bench: the app's {kind}: {message.get('message')}")
        (started if kind == "lifespan.startup.complete" else stopped).set()

    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.get_running_loop().create_task(app(lifespan, messages.get, send))
    await messages.put({"type": "lifespan.startup"})
    await started.wait()
    try:
        yield
    finally:
        await messages.put({"type": "lifespan.shutdown"})
        await stopped.wait()
        await task


class _Fixed:
    """Stands in for GetStudent: answers one student, touching nothing."""

    def __init__(self, student: object) -> None:
        self._student = student

    async def execute(self, _student_id: UUID, _precondition: object = None) -> object:
        return self._student


async def _service_parts(ids: list[UUID]) -> list[tuple[str, float]]:
    # Imported here: the service reads its settings from the environment set up in main().
    from dependency_injector import providers

    from interfaces.container import Container
    from interfaces.http.app import create_app

    token = TokenIssuer(os.environ["AUTH_SECRET"].encode()).mint(
        "bench", ("students:read",), ttl=timedelta(hours=1)
    )
    results: list[tuple[str, float]] = []

    def by_id(i: int) -> str:
        return f"/students/{ids[i % len(ids)]}"

    container = Container()
    app = create_app(container)
    async with _running(app):
        get = _asgi_get(app, token)
        results.append(("whole app: GET /students/{id}", await _cpu_per_call(lambda i: get(by_id(i)))))
        results.append(
            ("whole app: GET /students?limit=50", await _cpu_per_call(lambda _: get("/students?limit=50")))
        )
        make = container.get_student
        results.append(
            (
                "GetStudent and its unit of work, without the app",
                await _cpu_per_call(lambda i: make().execute(ids[i % len(ids)])),
            )
        )
        student = await make().execute(ids[0])

    stub = Container()
    stub.get_student.override(providers.Factory(_Fixed, student))
    app = create_app(stub)
    async with _running(app):
        get = _asgi_get(app, token)
        results.append(
            ("the app around a use-case without I/O", await _cpu_per_call(lambda i: get(by_id(i))))
        )
    return results


async def _driver_alone(ids: list[UUID]) -> list[tuple[str, float]]:
    connection = await asyncpg.connect(BENCH_DSN)
    pool = await asyncpg.create_pool(BENCH_DSN, min_size=2, max_size=4)
    try:
        statement = await connection.prepare(BY_ID)
        return [
            (
                "asyncpg: prepared fetchrow on one connection",
                await _cpu_per_call(lambda i: statement.fetchrow(ids[i % len(ids)])),
            ),
            (
                "asyncpg: pool.fetchrow",
                await _cpu_per_call(lambda i: pool.fetchrow(BY_ID, ids[i % len(ids)])),
            ),
        ]
    finally:
        await pool.close()
        await connection.close()


async def _measure() -> tuple[str, list[tuple[str, float]]]:
    data = await database.prepare()
    connection = await asyncpg.connect(BENCH_DSN)
    try:
        ids = [
            row[0]
            for row in await connection.fetch("SELECT id FROM students ORDER BY random() LIMIT $1", IDS)
        ]
    finally:
        await connection.close()
    # Access lines are written to file descriptor 2 as in production; here they go nowhere.
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        results = await _service_parts(ids) + await _driver_alone(ids)
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
    return data.postgres_version, results


def _report(started: datetime, postgres: str, results: list[tuple[str, float]]) -> str:
    packages = ", ".join(
        f"{name} {package_version(name)}"
        for name in (
            "fastapi",
            "starlette",
            "sqlalchemy",
            "asyncpg",
            "uvloop",
            "dependency-injector",
            "structlog",
        )
    )
    commit, dirty = git_state()
    lines = [
        f"# CPU per request, in process, {started:%Y-%m-%d %H:%M:%S} UTC",
        "",
        f"- command: `python -m bench.inprocess` (BENCH_ROUNDS={ROUNDS}, BENCH_REQUESTS={REQUESTS})",
        f"- git commit: `{commit}`{' plus uncommitted changes' if dirty else ''}",
        f"- Python {sys.version.split()[0]}, PostgreSQL {postgres}, {packages}",
        f"- machine: {os.cpu_count()} x {cpu_model()}",
        f"- one request at a time; CPU time of this process (user + system), best of {ROUNDS} rounds"
        f" of {REQUESTS}, after {WARM_UP} warm-up calls; ids drawn from {IDS} random students",
        "",
        "| what | CPU us per request |",
        "|---|---:|",
        *(f"| {label} | {micros:.1f} |" for label, micros in results),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    started = datetime.now(UTC)
    os.environ.update(SERVICE_ENV | {"AUTH_SECRET": secrets.token_urlsafe(48)})
    postgres, results = uvloop.run(_measure())
    text = _report(started, postgres, results)
    print(text)
    path = RESULTS_DIR / f"{started:%Y%m%dT%H%M%SZ}-inprocess.md"
    path.write_text(text)
    print(f"bench: written {path.relative_to(RESULTS_DIR.parent.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
