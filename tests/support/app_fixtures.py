"""The app as a test talks to it: through HTTP (httpx, in process), on each backend by container overrides.

A pytest plugin (tests/conftest.py loads it), so that every suite that goes through HTTP has it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from infrastructure.memory.store import InMemoryDatabase
from infrastructure.memory.unit_of_work import InMemoryUnitOfWork
from interfaces.container import Container
from interfaces.http.app import create_app
from tests.support.auth import bearer, settings_for_tests


@pytest.fixture
def container(empty_engine: AsyncEngine | None, memory_database: InMemoryDatabase) -> Container:
    container = Container()
    # Without a real backend the engine is an empty in-memory SQLite: only /readyz looks at it, and
    # nothing is written into the working directory.
    settings = settings_for_tests(database_url="sqlite+aiosqlite://") if empty_engine is None else None
    container.settings.override(providers.Object(settings or settings_for_tests()))
    if empty_engine is None:
        memory = providers.Factory(
            InMemoryUnitOfWork, database=memory_database, event_bus=container.event_bus
        )
        container.unit_of_work.override(memory)
        container.read_only_unit_of_work.override(memory)
        container.import_unit_of_work.override(memory)
    else:
        # The session's engine, shared: the app's lifespan is not run, so nothing disposes it.
        container.engine.override(providers.Object(empty_engine))
        container.import_engine.override(providers.Object(empty_engine))
    return container


@pytest.fixture
async def app(container: Container) -> AsyncIterator[FastAPI]:
    yield create_app(container)
    container.unwire()
    # The lifespan is not run: close the database's own connections (PostgreSQL's driver path).
    await container.database().dispose()
    await container.import_database().dispose()


def _client(app: FastAPI, headers: dict[str, str]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no credentials: each request names its own."""
    async with _client(app, {}) as client:
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose token grants every scope, on every request."""
    async with _client(app, bearer()) as client:
        yield client


@asynccontextmanager
async def in_memory_client(**settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on a store of its own in memory, with ``settings`` over the tests' own."""
    container = Container()
    container.settings.override(
        providers.Object(settings_for_tests(**{"database_url": "sqlite+aiosqlite://", **settings}))
    )
    memory = providers.Factory(InMemoryUnitOfWork, database=InMemoryDatabase(), event_bus=container.event_bus)
    container.unit_of_work.override(memory)
    container.read_only_unit_of_work.override(memory)
    container.import_unit_of_work.override(memory)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
