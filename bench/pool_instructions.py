"""What one checkout and return of a PostgreSQL connection costs, per pool, counted by callgrind.

``python -m bench.pool_instructions`` times three ways of lending a connection, each in its own
process under callgrind, ``LONG`` and ``SHORT`` times after the same warm-up (the difference over
``LONG - SHORT`` is one checkout and return, start-up cancelled out): SQLAlchemy's pool through
its asyncio bridge (``engine.connect()`` and ``close()``, as the service did before pg_pool.py),
asyncpg's own ``Pool`` (``acquire()``/``release()``, its reset query turned off), and the
service's ``PgPool`` (infrastructure/sqlalchemy/pg_pool.py), which the fair queue stands before.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.config import BENCH_DSN
from bench.metadata import git_state, write_report

WARM_UP, SHORT, LONG = 200, 200, 1200
_COLLECTED = re.compile(r"Collected : (\d+)")
POOLS = ("sqlalchemy", "asyncpg", "pg_pool")


async def _lend(pool: str, n: int) -> None:
    if pool == "sqlalchemy":
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(BENCH_DSN.replace("postgresql://", "postgresql+asyncpg://"), pool_size=5)
        for _ in range(WARM_UP + n):
            connection = await engine.connect()
            await connection.close()
        await engine.dispose()
    elif pool == "asyncpg":
        import asyncpg

        async def no_reset(_connection: Any) -> None:
            return None

        lender = await asyncpg.create_pool(BENCH_DSN, min_size=5, max_size=5, reset=no_reset)
        for _ in range(WARM_UP + n):
            await lender.release(await lender.acquire())
        await lender.close()
    else:
        import asyncpg

        from infrastructure.sqlalchemy.pg_pool import PgPool

        async def connect() -> Any:
            return await asyncpg.connect(BENCH_DSN)

        own = PgPool(connect, size=5)
        for _ in range(WARM_UP + n):
            own.release(await own.acquire())
        await own.dispose()


def _count(pool: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as directory:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={Path(directory) / 'out'}"]
        argv += [sys.executable, "-m", "bench.pool_instructions", "--lend", pool, str(n)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    match = _COLLECTED.search(result.stderr)
    if match is None:
        raise SystemExit(f"bench: callgrind reported no total: {result.stderr[-500:]}")
    return int(match.group(1))


def main() -> int:
    if sys.argv[1:2] == ["--lend"]:
        import uvloop

        uvloop.run(_lend(sys.argv[2], int(sys.argv[3])))
        return 0
    commit, dirty = git_state()
    lines = [
        "# Instructions per connection checkout and return (callgrind)",
        "",
        f"`python -m bench.pool_instructions` at {commit[:7]}{' (uncommitted changes)' if dirty else ''}: "
        f"({LONG} - {SHORT}) checkouts after {WARM_UP}, PostgreSQL, no statement sent.",
        "",
        "| pool | instructions per checkout and return |",
        "|---|---:|",
    ]
    for pool in POOLS:
        per_lend = (_count(pool, LONG) - _count(pool, SHORT)) // (LONG - SHORT)
        lines.append(f"| {pool} | {per_lend:,} |")
        print(lines[-1], flush=True)
    write_report(lines, "pool-instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
