"""Which database failures are outages (503) and which are bugs (500), by what each driver raises."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from application.errors import Overloaded, StoreNotMigrated, StoreUnavailable, WritesCollided
from infrastructure.sqlalchemy import faults
from infrastructure.sqlalchemy.driver import translate_driver_error


class PgError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class MySqlError(Exception):
    pass


def wrapped(kind: type[DBAPIError], orig: Exception, *, invalidated: bool = False) -> DBAPIError:
    return kind("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (TimeoutError(), StoreUnavailable, faults.NO_ANSWER),
        (ConnectionRefusedError(111, "refused"), StoreUnavailable, faults.UNREACHABLE),
        (wrapped(OperationalError, Exception("gone"), invalidated=True), StoreUnavailable, faults.LOST),
        (wrapped(ProgrammingError, PgError("no relation", "42P01")), StoreNotMigrated, None),
        (wrapped(OperationalError, PgError("too many", "53300")), StoreUnavailable, faults.LOST),
        (wrapped(OperationalError, PgError("admin shutdown", "57P01")), StoreUnavailable, faults.LOST),
        (wrapped(OperationalError, PgError("canceled", "57014")), StoreUnavailable, faults.NO_ANSWER),
        (wrapped(OperationalError, PgError("deadlock", "40P01")), WritesCollided, None),
        (wrapped(OperationalError, PgError("could not serialize", "40001")), WritesCollided, None),
        # The rest of class 40 is no collision of two writers: a retry-shortly 503, and where
        # the statement may have been carried out, one that says so.
        (wrapped(OperationalError, PgError("rollback", "40000")), Overloaded, Overloaded.AT_CAPACITY),
        (
            wrapped(OperationalError, PgError("completion unknown", "40003")),
            StoreUnavailable,
            faults.OUTCOME_UNKNOWN,
        ),
        (wrapped(ProgrammingError, MySqlError(1146, "no table")), StoreNotMigrated, None),
        (wrapped(OperationalError, MySqlError(1213, "deadlock")), WritesCollided, None),
        (wrapped(OperationalError, MySqlError(1040, "too many connections")), StoreUnavailable, faults.LOST),
        (wrapped(OperationalError, MySqlError(1205, "lock wait timeout")), Overloaded, Overloaded.LOCKED),
        (wrapped(OperationalError, Exception("no such table: students")), StoreNotMigrated, None),
        # Found by attack: a CLI import waiting on another writer said "the service is at capacity".
        (wrapped(OperationalError, Exception("database is locked")), Overloaded, Overloaded.LOCKED),
        # Found by review, each a 500: a lock_timeout, a read-only database, KILL QUERY.
        (wrapped(OperationalError, PgError("lock timeout", "55P03")), Overloaded, Overloaded.LOCKED),
        (
            wrapped(OperationalError, PgError("read-only transaction", "25006")),
            StoreUnavailable,
            faults.READ_ONLY,
        ),
        (wrapped(OperationalError, MySqlError(1290, "--read-only")), StoreUnavailable, faults.READ_ONLY),
        (wrapped(OperationalError, MySqlError(1317, "interrupted")), StoreUnavailable, faults.NO_ANSWER),
    ],
)
def test_outages_are_named(error: Exception, expected: type[Exception], message: str | None) -> None:
    translated = faults.outage(error)
    assert type(translated) is expected
    if message is not None:
        assert str(translated) == message


def test_asyncmy_numbers_win_over_its_sqlstate() -> None:
    # asyncmy sets a SQLSTATE too: 42S02 for a missing table, which is no PostgreSQL state.
    orig: Any = MySqlError(1146, "Table 'x.students' doesn't exist")
    orig.sqlstate = "42S02"
    assert type(faults.outage(wrapped(ProgrammingError, orig))) is StoreNotMigrated


@pytest.mark.parametrize(
    "error",
    [
        wrapped(IntegrityError, PgError("duplicate key", "23505")),
        wrapped(ProgrammingError, PgError("syntax error", "42601")),
        wrapped(ProgrammingError, MySqlError(1064, "syntax")),
        ValueError("a bug"),
    ],
)
def test_bugs_stay_bugs(error: Exception) -> None:
    assert faults.outage(error) is None


def _adapted(message: str) -> Exception:
    """asyncpg's InternalClientError as SQLAlchemy's asyncpg adapter raises it: wrapped."""
    adapted = Exception(f"<class 'asyncpg.exceptions._base.InternalClientError'>: {message}")
    adapted.__cause__ = asyncpg.exceptions.InternalClientError(message)
    return adapted


@pytest.mark.parametrize(
    "message",
    [
        "cannot switch to state 21; another operation (2) is in progress",
        "cannot switch to state 15; another operation (4) is in progress",
        'cannot switch to state 12; protocol is in the "failed" state',
    ],
)
def test_a_statement_on_a_connection_the_server_ended_is_a_lost_connection(message: str) -> None:
    # Found by attack: pg_terminate_backend mid-import, a 500 with asyncpg's words in the CLI.
    assert str(faults.outage(wrapped(DBAPIError, _adapted(message)))) == faults.LOST
    assert (
        str(faults.outage(wrapped(DBAPIError, _adapted(message)), committing=True)) == faults.OUTCOME_UNKNOWN
    )
    dialect = create_async_engine("postgresql+asyncpg://localhost/x").dialect
    closed_not_yet = SimpleNamespace(is_closed=lambda: False)
    error = asyncpg.exceptions.InternalClientError(message)
    translated = translate_driver_error(dialect, error, closed_not_yet, "COPY t")
    assert isinstance(translated, DBAPIError)
    assert translated.connection_invalidated


def test_another_operation_under_way_on_one_connection_stays_a_bug() -> None:
    message = "cannot switch to state 12; another operation (15) is in progress"
    assert faults.outage(wrapped(DBAPIError, _adapted(message))) is None


def test_a_connection_lost_while_committing_leaves_the_outcome_unknown() -> None:
    lost = wrapped(OperationalError, Exception("gone"), invalidated=True)
    assert str(faults.outage(lost, committing=True)) == faults.OUTCOME_UNKNOWN
    assert str(faults.outage(lost, connecting=True)) == faults.UNREACHABLE
    # Found by review: a COMMIT with no answer was "retry shortly", and the write had been kept.
    assert str(faults.outage(TimeoutError(), committing=True)) == faults.OUTCOME_UNKNOWN


@pytest.mark.parametrize(
    "error",
    [
        wrapped(OperationalError, PgError('database "x" does not exist', "3D000")),
        wrapped(OperationalError, PgError("password authentication failed", "28P01")),
        wrapped(OperationalError, MySqlError(1049, "Unknown database 'x'")),
        wrapped(OperationalError, MySqlError(1045, "Access denied")),
    ],
)
def test_whatever_stops_a_connection_from_opening_is_an_outage(error: Exception) -> None:
    # Found by review: a dropped database was a 500 on PostgreSQL and MariaDB.
    assert str(faults.outage(error, connecting=True)) == faults.UNREACHABLE


def test_warnings_are_throttled_and_say_how_many_were_left_out(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = faults.ThrottledWarnings(interval=1.0, clock=lambda: now[0])
    for _ in range(5):
        throttled.warn("lost", "database unavailable")
    now[0] = 1.5
    throttled.warn("lost", "database unavailable")
    throttled.warn("other", "something else")
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable",
        "database unavailable (4 more like it since the last line)",
        "something else",
    ]


async def test_an_unread_report_of_a_lost_connection_is_no_error(caplog: pytest.LogCaptureFixture) -> None:
    # Found by attack: after pg_terminate_backend mid-COPY, asyncio's "Future exception was never
    # retrieved" with asyncpg's ConnectionDoesNotExistError followed the one line that said so.
    loop = asyncio.get_running_loop()
    before = loop.get_exception_handler()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        faults.quiet_lost_connections(loop)
        installed = loop.get_exception_handler()
        faults.quiet_lost_connections(loop)  # a second app on the same loop
        assert loop.get_exception_handler() is installed
        unread = "Future exception was never retrieved"
        lost = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed mid-operation")
        with caplog.at_level(logging.DEBUG, logger=faults.__name__):
            loop.call_exception_handler({"message": unread, "exception": lost})
        other = {"message": unread, "exception": ValueError("a bug")}
        loop.call_exception_handler(other)
    finally:
        loop.set_exception_handler(before)
    assert seen == [other]  # the bug still reaches the handler the loop had
    assert [r.levelno for r in caplog.records if r.name == faults.__name__] == [logging.DEBUG]
