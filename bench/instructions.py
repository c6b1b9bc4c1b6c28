"""Instructions per call, counted by valgrind's callgrind: a cost that the machine's noise leaves alone.

``python -m bench.instructions`` counts what one ``GetStudent`` costs this process (the use-case,
its unit of work, the pool and SQLAlchemy's asyncpg adapter; PostgreSQL's own work is in another
process and not counted), on a database of its own with one student, in each variant below. Each
variant runs twice under callgrind, with ``SHORT`` and ``LONG`` calls after the same warm-up; the
difference divided by ``LONG - SHORT`` is the cost of one call, start-up and warm-up cancelled out.

Variants: ``plain`` (the service as configured), statements through SQLAlchemy's execution rather
than on asyncpg's connection (DB_DRIVER_STATEMENTS=false), ``pre-ping`` (DB_POOL_PRE_PING=true).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from bench.config import ADMIN_DSN, PG_HOST, PG_PORT, PG_USER
from bench.metadata import git_state, write_report

DATABASE = "students_bench_instructions"
URL = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{DATABASE}"
STUDENT = UUID("01a20376-32e4-73a0-b31a-8898a30fe5b8")
WARM_UP, SHORT, LONG = 200, 200, 1200
VARIANTS = {
    "plain": {},
    "statements through SQLAlchemy's execution": {"DB_DRIVER_STATEMENTS": "false"},
    "pre-ping": {"DB_POOL_PRE_PING": "true"},
}
_COLLECTED = re.compile(r"Collected : (\d+)")


async def _create() -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()


async def _seed() -> None:
    connection = await asyncpg.connect(URL.replace("+asyncpg", ""))
    try:
        await connection.execute(
            "INSERT INTO students VALUES ($1, 'Ada', 'ada', 'ada@example.org', 'CS', 8.5, $2, $2, 1)",
            STUDENT,
            datetime.now(UTC),
        )
    finally:
        await connection.close()


def _prepare() -> None:
    asyncio.run(_create())
    migrate = [sys.executable, "-m", "interfaces.cli", "migrate"]
    subprocess.run(migrate, env={**os.environ, "DATABASE_URL": URL}, check=True, capture_output=True)
    asyncio.run(_seed())


async def _calls(n: int) -> None:
    """In the measured process: ``n`` GetStudent calls through the container, after a warm-up."""
    from interfaces.container import Container

    container = Container()
    get_student = container.get_student
    for _ in range(WARM_UP + n):
        await get_student().execute(STUDENT)
    await container.engine().dispose()


def _count(variant: dict[str, str], n: int) -> int:
    with tempfile.TemporaryDirectory() as directory:
        # A fixed hash seed: dict and set layouts, and so the counts, the same from run to run.
        env = {**os.environ, "DATABASE_URL": URL, "ENVIRONMENT": "test", "PYTHONHASHSEED": "0", **variant}
        env.setdefault("AUTH_SECRET", "instructions-only-secret-0123456789-abcdefghij")
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(directory) / 'out'}",
                sys.executable,
                "-m",
                "bench.instructions",
                "--calls",
                str(n),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    match = _COLLECTED.search(result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind reported no total: {result.stderr[-500:]}")
    return int(match.group(1))


def main() -> int:
    if sys.argv[1:2] == ["--calls"]:
        import uvloop

        uvloop.run(_calls(int(sys.argv[2])))
        return 0
    _prepare()
    commit, dirty = git_state()
    lines = [
        "# Instructions per GetStudent call (callgrind)",
        "",
        f"`python -m bench.instructions` at {commit[:7]}{' (uncommitted changes)' if dirty else ''}: the",
        "use-case with its unit of work, through",
        f"the container, on PostgreSQL; ({LONG} - {SHORT}) calls after {WARM_UP} to warm up.",
        "",
        "| variant | instructions per call |",
        "|---|---:|",
    ]
    for name, variant in VARIANTS.items():
        per_call = (_count(variant, LONG) - _count(variant, SHORT)) // (LONG - SHORT)
        lines.append(f"| {name} | {per_call:,} |")
        print(lines[-1], flush=True)
    write_report(lines, "instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
