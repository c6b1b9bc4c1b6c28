"""The whole app through HTTP (httpx, in process), on each backend via container overrides."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from dependency_injector import providers
from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.memory.store import InMemoryDatabase
from infrastructure.memory.unit_of_work import InMemoryUnitOfWork
from interfaces.container import Container
from interfaces.http.app import create_app


@pytest.fixture
def container(empty_engine: AsyncEngine | None, memory_database: InMemoryDatabase) -> Container:
    container = Container()
    if empty_engine is None:
        memory = providers.Factory(InMemoryUnitOfWork, database=memory_database)
        container.unit_of_work.override(memory)
        container.read_only_unit_of_work.override(memory)
    else:
        # The session's engine, shared: the app's lifespan is not run, so nothing disposes it.
        container.engine.override(providers.Object(empty_engine))
    return container


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    container.unwire()
