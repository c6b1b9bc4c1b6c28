"""Which database failures are outages the client should retry (503), and which are our bugs (500).

A dropped connection, a server that refuses or does not answer, a schema not migrated yet, a
deadlock: none of these is the client's fault or a bug in the service, and each heals without a
restart. They become application errors here, in one place for every backend; anything not
named here stays what it is and reaches the client as a 500, with its traceback in the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

from application.errors import Overloaded, StoreNotMigrated, StoreUnavailable, WritesCollided

logger = logging.getLogger(__name__)

LOST = "the connection to the database was lost; retry shortly"
UNREACHABLE = "the database cannot be reached; retry shortly"
NO_ANSWER = "the database did not answer in time; retry shortly"
# The COMMIT went out and no answer came back: the transaction may or may not have been kept.
OUTCOME_UNKNOWN = (
    "the connection to the database was lost while saving: the change may or may not have been "
    "kept; read the resource before retrying"
)

READ_ONLY = "the database accepts no changes now (a standby, or read-only); retry shortly"

# PostgreSQL SQLSTATEs (and classes, by their first two characters).
_PG_NOT_MIGRATED = frozenset({"42P01"})  # undefined_table
_PG_COLLIDED = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_PG_BUSY_CLASSES = frozenset({"40"})  # the rest of transaction rollback
_PG_BUSY = frozenset({"55P03"})  # lock_not_available: lock_timeout ran out
_PG_READ_ONLY = frozenset({"25006"})  # read_only_sql_transaction: a standby, or read-only mode
_PG_OUTAGE_CLASSES = frozenset({"08", "53", "57"})  # connection, resources, operator intervention
# MySQL/MariaDB error numbers.
_MYSQL_NOT_MIGRATED = frozenset({1146})  # table doesn't exist
_MYSQL_BUSY = frozenset({1205})  # lock wait timeout
_MYSQL_COLLIDED = frozenset({1213})  # deadlock
_MYSQL_READ_ONLY = frozenset({1290, 1792, 1836})  # --read-only, a read-only transaction or mode
_MYSQL_INTERRUPTED = frozenset({1317, 1969, 3024})  # KILL QUERY; statement time limits
# Too many connections (1040, 1203, 1226 per user), shutting down, killed, can't connect, lost,
# statement time limits (1969 MariaDB, 3024 MySQL).
_MYSQL_OUTAGE = frozenset(
    {1040, 1053, 1077, 1203, 1226, 1927, 1969, 2002, 2003, 2005, 2006, 2013, 2055, 3024}
)


# asyncpg, told by the server that the connection ends (an unsolicited FATAL, as
# pg_terminate_backend sends), waits for a close still on its way; a statement meanwhile is refused
# with an InternalClientError naming the protocol's state: failed (1), consuming an error (2) or
# terminating (4). Any other state it names is another operation under way on the same
# connection, which is a bug, and stays one.
_PROTOCOL_ENDING = re.compile(r'another operation \([124]\) is in progress|protocol is in the "failed" state')


def connection_ending(error: BaseException | None) -> bool:
    """``error`` (or what it wraps) is asyncpg refusing a statement on a connection the server
    has ended: gone, as surely as one that ``is_closed()``."""
    for candidate in (error, getattr(error, "__cause__", None)):
        if type(candidate).__name__ == "InternalClientError" and _PROTOCOL_ENDING.search(str(candidate)):
            return True
    return False


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, error.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def _mysql_code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def reason_of(error: BaseException) -> str:
    """A one-line description of a driver error, for the log (never for the client)."""
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def outage(error: BaseException, *, connecting: bool = False, committing: bool = False) -> Exception | None:
    """The application error ``error`` amounts to, or None when it is not an outage (a bug).

    ``connecting``: the error came from opening a connection, so the database is unreachable.
    ``committing``: the error came from the COMMIT itself, so a lost connection leaves the
    outcome unknown, which the client is told.
    """
    translated = _outage(error, committing=committing)
    if connecting and (translated is None or type(translated) is StoreUnavailable):
        # Whatever stops a connection from being opened (a database dropped, a role gone, a
        # password changed) leaves the service unable to serve: never a bug of the request.
        if translated is None and not isinstance(error, DBAPIError | OSError | TimeoutError):
            return None
        return StoreUnavailable(UNREACHABLE, reason=reason_of(error))
    return translated


def _outage(error: BaseException, *, committing: bool) -> Exception | None:
    reason = reason_of(error)
    if isinstance(error, TimeoutError):
        # No answer to a COMMIT: it may have been carried out all the same.
        return StoreUnavailable(OUTCOME_UNKNOWN if committing else NO_ANSWER, reason=reason)
    if isinstance(error, OSError):
        return StoreUnavailable(UNREACHABLE, reason=reason)
    if not isinstance(error, DBAPIError):
        return None
    orig = error.orig
    if error.connection_invalidated or connection_ending(orig):
        return StoreUnavailable(OUTCOME_UNKNOWN if committing else LOST, reason=reason)
    # MySQL's error numbers first: asyncmy sets a SQLSTATE too, a coarser one.
    code = _mysql_code(orig) if orig is not None else None
    if code is not None:
        if code in _MYSQL_NOT_MIGRATED:
            return StoreNotMigrated(reason=reason)
        if code in _MYSQL_COLLIDED:
            return WritesCollided()
        if code in _MYSQL_BUSY:
            return Overloaded(Overloaded.LOCKED)
        if code in _MYSQL_READ_ONLY:
            return StoreUnavailable(READ_ONLY, reason=reason)
        if code in _MYSQL_INTERRUPTED:
            return StoreUnavailable(NO_ANSWER, reason=reason)
        if code in _MYSQL_OUTAGE:
            return StoreUnavailable(OUTCOME_UNKNOWN if committing else LOST, reason=reason)
        return None
    state = _sqlstate(orig) if orig is not None else None
    if state is not None:
        if state in _PG_NOT_MIGRATED:
            return StoreNotMigrated(reason=reason)
        if state in _PG_COLLIDED:
            return WritesCollided()
        if state == "40003":  # statement_completion_unknown: it may have been carried out
            return StoreUnavailable(OUTCOME_UNKNOWN, reason=reason)
        if state in _PG_BUSY:
            return Overloaded(Overloaded.LOCKED)
        if state[:2] in _PG_BUSY_CLASSES:
            return Overloaded()
        if state in _PG_READ_ONLY:
            return StoreUnavailable(READ_ONLY, reason=reason)
        if state == "57014":  # query_canceled: a server-side statement timeout
            return StoreUnavailable(NO_ANSWER, reason=reason)
        if state[:2] in _PG_OUTAGE_CLASSES:
            return StoreUnavailable(OUTCOME_UNKNOWN if committing else LOST, reason=reason)
        return None
    text = str(orig).lower()
    if "no such table" in text:  # SQLite
        return StoreNotMigrated(reason=reason)
    if "database is locked" in text or "database table is locked" in text:
        return Overloaded(Overloaded.LOCKED)
    if "readonly database" in text:  # SQLite: the file takes no writes (its mode, or opened read-only)
        return StoreUnavailable(READ_ONLY, reason=reason)
    if "unable to open database file" in text or "disk i/o error" in text:
        return StoreUnavailable(UNREACHABLE, reason=reason)
    return None


class ThrottledWarnings:
    """At most one warning line per ``interval`` seconds per kind: an outage under load would
    otherwise write one line per request. The next line says how many were left out."""

    def __init__(self, interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def warn(self, kind: str, message: str) -> None:
        now = self._clock()
        if now - self._last.get(kind, -self._interval) < self._interval:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return
        self._last[kind] = now
        left_out = self._left_out.pop(kind, 0)
        suffix = f" ({left_out} more like it since the last line)" if left_out else ""
        logger.warning("%s%s", message, suffix)


throttled = ThrottledWarnings()


def report(error: Exception, translated: Exception) -> None:
    """Log an outage as one line: what the client was told and what the driver said."""
    reason = getattr(translated, "reason", "") or reason_of(error)
    throttled.warn(type(translated).__name__, f"database unavailable: {translated}; {reason}")


_QUIETS_LOST_CONNECTIONS = "quiets_lost_connections"


def quiet_lost_connections(loop: asyncio.AbstractEventLoop) -> None:
    """Report asyncpg's unread futures of a connection the server ended at debug level only.

    When the server ends a connection in the middle of an operation, the statement waiting on it is
    refused (and answered as a lost connection, above), but asyncpg may also leave a future of its
    own holding ConnectionDoesNotExistError, never read: asyncio reports that at error level, with
    its traceback, after the one line that already said the connection was lost. Every other
    report goes to the handler the loop had.
    """
    previous = loop.get_exception_handler()
    if previous is not None and previous.__dict__.get(_QUIETS_LOST_CONNECTIONS):
        return  # once per loop: a second app on it (tests make many) would wrap it again

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        unread = str(context.get("message", "")).startswith("Future exception was never retrieved")
        if unread and type(error).__name__ == "ConnectionDoesNotExistError":
            logger.debug("an unread report of a lost connection: %s", error)
            return
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    handle.__dict__[_QUIETS_LOST_CONNECTIONS] = True
    loop.set_exception_handler(handle)
