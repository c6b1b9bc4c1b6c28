"""The ``faulty`` fixture: the app on a throw-away PostgreSQL or MariaDB behind a fault proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from infrastructure.migrations import upgrade_to_head
from tests.support.databases import throw_away_database
from tests.support.fault_proxy import FaultProxy
from tests.support.faulty_database import FaultyDatabase, app_on, close_app


@pytest.fixture(params=["postgres", "mariadb"])
async def faulty(request: pytest.FixtureRequest) -> AsyncIterator[FaultyDatabase]:
    backend = str(request.param)
    async with throw_away_database(backend) as database:
        url = make_url(database.url)
        proxy = FaultProxy(url.host or "127.0.0.1", url.port or (5432 if backend == "postgres" else 3306))
        await proxy.start()
        migrator = create_async_engine(database.url)
        await upgrade_to_head(migrator)
        await migrator.dispose()
        direct = create_async_engine(database.url, isolation_level="AUTOCOMMIT")
        container, client = await app_on(backend, database, proxy.url_for(database.url))
        try:
            yield FaultyDatabase(backend, client, proxy, database, direct, container)
        finally:
            await close_app(container, client)
            await proxy.stop()
            await direct.dispose()
