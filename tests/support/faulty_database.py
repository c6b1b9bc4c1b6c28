"""The app on a throw-away database reached through a fault proxy, for the reliability suite.

Each test gets its own database and its own proxy, so that it can cut, refuse and stall the
network, or kill its connections from the server's side, without touching anything else on the
shared servers (the ``faulty`` fixture of tests/reliability/conftest.py builds one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from dependency_injector import providers
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from interfaces.container import Container
from interfaces.http.app import create_app
from tests.support.auth import bearer, settings_for_tests
from tests.support.databases import ThrowAwayDatabase
from tests.support.fault_proxy import FaultProxy

# Short enough that a test of a silent database takes a second, not the defaults' ten.
TIMEOUTS = {"db_pool_timeout": 1.0, "db_statement_timeout": 1.0, "readiness_timeout": 1.0}


@dataclass
class FaultyDatabase:
    """A running app, the proxy between it and its database, and a direct line to the database."""

    backend: str
    client: httpx.AsyncClient
    proxy: FaultProxy
    database: ThrowAwayDatabase
    direct: AsyncEngine
    container: Container

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.direct.connect() as connection:
            return (await connection.execute(sa.text(sql), params)).scalar()

    async def execute(self, sql: str) -> None:
        async with self.direct.connect() as connection:
            await connection.execute(sa.text(sql))

    async def kill_connections_but(self, keep: Any) -> None:
        """End every connection to this database except ``keep`` (an AsyncConnection), PostgreSQL."""
        keep_pid = (await keep.execute(sa.text("SELECT pg_backend_pid()"))).scalar()
        name = make_url(self.database.url).database
        async with self.direct.connect() as connection:
            await connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid() AND pid <> :keep"
                ),
                {"name": name, "keep": keep_pid},
            )

    async def kill_waiting_queries(self) -> None:
        """KILL QUERY every statement of this database that waits for a lock (MariaDB)."""
        name = make_url(self.database.url).database
        async with self.direct.connect() as connection:
            ids = (
                await connection.execute(
                    sa.text(
                        "SELECT id FROM information_schema.processlist "
                        "WHERE db = :name AND state LIKE '%lock%' AND id <> CONNECTION_ID()"
                    ),
                    {"name": name},
                )
            ).scalars()
            for thread_id in list(ids):
                await _kill(connection, f"KILL QUERY {int(thread_id)}")

    async def kill_connections(self) -> int:
        """End every connection to this database from the server's side (not the shared server)."""
        name = make_url(self.database.url).database
        async with self.direct.connect() as connection:
            if self.backend == "postgres":
                killed = await connection.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                return int(killed.scalar() or 0)
            ids = (
                await connection.execute(
                    sa.text(
                        "SELECT id FROM information_schema.processlist "
                        "WHERE db = :name AND id <> CONNECTION_ID()"
                    ),
                    {"name": name},
                )
            ).scalars()
            count = 0
            for thread_id in list(ids):
                if await _kill(connection, f"KILL {int(thread_id)}"):
                    count += 1
            return count


async def app_on(
    backend: str, database: ThrowAwayDatabase, url: str, **settings: Any
) -> tuple[Container, httpx.AsyncClient]:
    container = Container()
    values = {"database_url": url, "db_pool_size": 4, **TIMEOUTS, **settings}
    container.settings.override(providers.Object(settings_for_tests(**values)))
    app = create_app(container)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=bearer(), timeout=30
    )
    return container, client


async def close_app(
    container: Container, client: httpx.AsyncClient, *, rewire: Container | None = None
) -> None:
    """``rewire``: the container of an app still in use. dependency-injector's wiring is global
    to the process: the last container wired serves every app, and unwiring leaves none."""
    await client.aclose()
    container.unwire()
    await container.database().dispose()
    await container.engine().dispose()
    await container.probe_engine().dispose()
    if rewire is not None:
        rewire.wire()


# MariaDB's "Unknown thread id": the connection ended between the listing and its KILL.
_GONE_ALREADY = 1094


async def _kill(connection: Any, statement: str) -> bool:
    """Run a KILL; False when its connection had already gone (which is what was wanted)."""
    try:
        await connection.execute(sa.text(statement))
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "args", (None,))[0] != _GONE_ALREADY:
            raise
        return False
    return True
