"""How many new database sessions a run opened, as PostgreSQL counts them (pg_stat_database).

A pool that keeps its connections opens none once warm; one that closes and reopens connections
under load (SQLAlchemy's QueuePool does with its overflow) shows it here, and it costs a lot.
"""

from __future__ import annotations

import psycopg

from bench import cpu
from bench.config import BENCH_DSN, DATABASE


class SessionCounter:
    def __init__(self) -> None:
        # Opened before any run, so it is never counted itself.
        self._connection = psycopg.connect(BENCH_DSN, autocommit=True)

    def sessions(self) -> int:
        row = self._connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        return int(row[0]) if row is not None else 0

    def postmaster_pid(self) -> int:
        row = self._connection.execute("SELECT pg_backend_pid()").fetchone()
        if row is None:
            raise RuntimeError("PostgreSQL did not say which process serves this connection")
        return cpu.parent_of(int(row[0]))

    def close(self) -> None:
        self._connection.close()
