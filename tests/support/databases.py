"""Throw-away databases for the real backends, created per test session and dropped after it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get("TEST_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306/test")

# Every store the contract and e2e suites run on; a test's backend is in its id.
BACKENDS = ("memory", "sqlite", "postgres", "mariadb")


def backends_required() -> bool:
    """In CI every backend must run: a database we cannot reach is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or bool(
        os.environ.get("REQUIRE_ALL_BACKENDS")
    )


def unavailable(backend: str, error: BaseException) -> None:
    message = f"{backend} is not reachable: {type(error).__name__}: {error}"
    if backends_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class ThrowAwayDatabase:
    backend: str
    url: str


@asynccontextmanager
async def throw_away_database(backend: str) -> AsyncIterator[ThrowAwayDatabase]:
    admin_url = POSTGRES_ADMIN_URL if backend == "postgres" else MARIADB_ADMIN_URL
    name = f"students_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        await admin.dispose()
        unavailable(backend, exc)
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield ThrowAwayDatabase(backend, url)
    finally:
        async with admin.connect() as connection:
            if backend == "postgres":
                await connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                await connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        await admin.dispose()


async def clear_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(sa.text("DELETE FROM idempotency_keys"))
        await connection.execute(sa.text("DELETE FROM students"))
