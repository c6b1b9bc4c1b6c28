"""Fixtures shared by every suite: fixed clock and ids, and one unit of work factory per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from application.ports import UnitOfWork
from infrastructure.memory.store import InMemoryDatabase
from infrastructure.memory.unit_of_work import InMemoryUnitOfWork
from infrastructure.migrations import upgrade_to_head
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.database import Database
from infrastructure.sqlalchemy.engine import create_engine
from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tests.support.databases import BACKENDS, clear_tables, throw_away_database
from tests.support.fakes import FixedClock, SequentialIds

# The app, its container and HTTP clients, for every suite that talks to it.
pytest_plugins = ["tests.support.app_fixtures"]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def ids() -> SequentialIds:
    return SequentialIds()


@pytest.fixture
def memory_database() -> InMemoryDatabase:
    return InMemoryDatabase()


@pytest.fixture(scope="session")
async def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "students.db"
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


async def _real_engine(backend: str) -> AsyncIterator[AsyncEngine]:
    async with throw_away_database(backend) as database:
        engine = create_engine(Settings(database_url=database.url))
        await upgrade_to_head(engine)
        yield engine
        await engine.dispose()


@pytest.fixture(scope="session")
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    async for engine in _real_engine("postgres"):
        yield engine


@pytest.fixture(scope="session")
async def mariadb_engine() -> AsyncIterator[AsyncEngine]:
    async for engine in _real_engine("mariadb"):
        yield engine


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest) -> AsyncEngine | None:
    """The backend's session-wide engine; ``None`` for the in-memory backend."""
    if backend == "memory":
        return None
    # Sync on purpose: getfixturevalue cannot start an async fixture from inside a running loop.
    engine: AsyncEngine = request.getfixturevalue(f"{backend}_engine")
    return engine


@pytest.fixture
async def empty_engine(engine: AsyncEngine | None) -> AsyncEngine | None:
    """The same engine with every table emptied, so each test starts from nothing."""
    if engine is not None:
        await clear_tables(engine)
    return engine


@pytest.fixture
async def uow_factory(
    empty_engine: AsyncEngine | None, memory_database: InMemoryDatabase
) -> AsyncIterator[Callable[..., UnitOfWork]]:
    """Makes a fresh unit of work on the test's backend, as the container does per use-case;
    ``event_bus=`` gives it handlers for what it commits."""
    if empty_engine is None:
        yield lambda **options: InMemoryUnitOfWork(memory_database, **options)
        return
    database = Database(empty_engine)  # one per test, as one per process: its pool is shared
    yield lambda **options: SqlAlchemyUnitOfWork(database, **options)
    await database.dispose()
