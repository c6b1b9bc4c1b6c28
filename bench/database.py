"""The benchmark database: created, migrated by ``students migrate``, seeded once, then inspected."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import asyncpg

from application.cursor import encode_cursor
from application.listing import SortValue, StudentQuery
from application.use_cases.list_students import parse_sort
from bench import seed
from bench.config import (
    ADMIN_DSN,
    BENCH_DSN,
    DATABASE,
    DEEP_ROW,
    PAGE_SIZE,
    POINT_READ_IDS,
    POST_EMAIL_DOMAIN,
    ROWS,
    SEED_EMAIL_DOMAIN,
    SERVICE_ENV,
    child_env,
)

SORTED = "-cgpa,name"
# The same orders in SQL: the service breaks ties by id in the direction of the last key.
_ORDER_SQL = {None: "id", SORTED: "cgpa DESC, name, id"}


@dataclass(frozen=True, slots=True)
class Page:
    """Where a page starts and which students it must hold, as the database itself says."""

    cursor: str | None  # the service's cursor for "after the row before this page"
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    rows: int
    seeded_now: bool
    seconds_to_seed: float | None
    postgres_version: str
    point_ids: tuple[str, ...]
    # (sort, depth) -> page; sort None is the default (id) order, depth 0 the first page.
    pages: dict[tuple[str | None, int], Page]


async def prepare() -> Dataset:
    await _create_database()
    _migrate()
    connection = await asyncpg.connect(BENCH_DSN)
    try:
        await delete_posted(connection)
        seeded_now, seconds = False, None
        if not await _is_seeded(connection):
            started = time.perf_counter()
            await _seed(connection)
            seeded_now, seconds = True, time.perf_counter() - started
        # Fresh statistics and visibility map whether or not rows were just loaded or deleted.
        await connection.execute("VACUUM ANALYZE students")
        return Dataset(
            rows=await connection.fetchval("SELECT count(*) FROM students"),
            seeded_now=seeded_now,
            seconds_to_seed=seconds,
            postgres_version=await connection.fetchval("SHOW server_version"),
            point_ids=await _point_ids(connection),
            pages={
                (sort, depth): await _page(connection, sort, depth)
                for sort in (None, SORTED)
                for depth in (0, DEEP_ROW)
            },
        )
    finally:
        await connection.close()


async def delete_posted(connection: asyncpg.Connection | None = None) -> int:
    """Remove the students that earlier POST runs added, so the seeded set is all that is left."""
    own = connection is None
    connection = connection or await asyncpg.connect(BENCH_DSN)
    try:
        status = await connection.execute(
            "DELETE FROM students WHERE email LIKE $1", f"%@{POST_EMAIL_DOMAIN}"
        )
        return int(status.split()[-1])
    finally:
        if own:
            await connection.close()


async def _create_database() -> None:
    try:
        admin = await asyncpg.connect(ADMIN_DSN)
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"bench: cannot reach PostgreSQL at {ADMIN_DSN}: {exc}") from None
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()


def _migrate() -> None:
    students_command = Path(sys.executable).with_name("students")
    # Run from an empty directory so that no .env file of the caller's can change the target.
    with tempfile.TemporaryDirectory() as empty:
        subprocess.run([str(students_command), "migrate"], env=child_env(SERVICE_ENV), cwd=empty, check=True)


async def _is_seeded(connection: asyncpg.Connection) -> bool:
    total, seeded = await connection.fetchrow(
        "SELECT count(*), count(*) FILTER (WHERE email LIKE $1) FROM students", f"%@{SEED_EMAIL_DOMAIN}"
    )
    return bool(total == seeded == ROWS)


async def _seed(connection: asyncpg.Connection) -> None:
    print(f"bench: seeding {ROWS:,} students into {DATABASE} ...", file=sys.stderr)
    async with connection.transaction():
        await connection.execute("TRUNCATE students, idempotency_keys")
        await connection.copy_records_to_table(
            "students", records=seed.students(ROWS), columns=list(seed.COLUMNS)
        )


async def _point_ids(connection: asyncpg.Connection) -> tuple[str, ...]:
    rows = await connection.fetch("SELECT id FROM students ORDER BY random() LIMIT $1", POINT_READ_IDS)
    return tuple(str(row["id"]) for row in rows)


async def _page(connection: asyncpg.Connection, sort: str | None, depth: int) -> Page:
    order_sql = _ORDER_SQL[sort]
    ids = await connection.fetch(
        f"SELECT id FROM students ORDER BY {order_sql} OFFSET $1 LIMIT $2", depth, PAGE_SIZE
    )
    cursor = None
    if depth:
        order = StudentQuery(sort=parse_sort(sort)).order
        columns = ", ".join(key.field.value for key in order)
        anchor = await connection.fetchrow(
            f"SELECT {columns} FROM students ORDER BY {order_sql} OFFSET $1 LIMIT 1", depth - 1
        )
        position: tuple[SortValue, ...] = tuple(_sort_value(value) for value in anchor.values())
        cursor = encode_cursor(position, order)
    return Page(cursor=cursor, ids=tuple(str(row["id"]) for row in ids))


def _sort_value(value: object) -> SortValue:
    if isinstance(value, str | Decimal | datetime | UUID):  # asyncpg's UUID is a subclass
        return value
    raise TypeError(f"unexpected sort value {value!r}")
