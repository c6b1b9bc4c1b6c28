"""PostgreSQL: statements compiled once by SQLAlchemy, run on the pooled asyncpg connection itself.

SQLAlchemy still builds and compiles every statement; only the execution skips SQLAlchemy's
greenlet bridge, its cursor adaptation and its pool, which were most of what a point read cost
this process beyond asyncpg's own work (the connections come from pg_pool.py, the transaction and
the fault handling from driver_session.py). A statement runs here when its compiled form needs
nothing SQLAlchemy would do at run time: each parameter comes from the caller by name
(SQLAlchemy's bind processors are applied), and each result column is a type asyncpg already
hands back as the entity holds it. Every statement of the stores is such a statement (a test says
so); one that is not is refused with a message that says why. Other backends, or
``DB_DRIVER_STATEMENTS=false``, go through SQLAlchemy (session.py).

A driver error becomes the SQLAlchemy exception its asyncpg dialect would have raised, with
``connection_invalidated`` set the same way, so that the repository (a taken email) and faults.py
(an outage) cannot tell which way a statement ran.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import ExecutableDDLElement
from sqlalchemy.sql import Executable

from infrastructure.sqlalchemy.faults import connection_ending
from infrastructure.sqlalchemy.tables import UtcDateTime

# DB_ECHO's logger (infrastructure/observability/logging.py): statements run here are logged on
# it as SQLAlchemy logs those it runs itself, values left out.
_echo = logging.getLogger("sqlalchemy.engine.Engine")

# Result types asyncpg decodes into what the entities hold, with no processing by SQLAlchemy.
_PLAIN_RESULTS: tuple[type[sa.types.TypeEngine[Any]], ...] = (
    sa.Uuid,
    sa.String,
    sa.Integer,
    UtcDateTime,  # PostgreSQL's timestamptz arrives as an aware UTC datetime (tables.py)
)
# Plans are kept for statements built once (at import, or per shape of a listing), the least
# recently used dropped beyond this many: a statement built per call is compiled per call.
_MAX_PLANS = 2048


@dataclass(frozen=True, slots=True)
class Plan:
    """A statement as asyncpg runs it: its SQL, and where each positional argument comes from."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    returns_rows: bool

    def arguments(self, parameters: dict[str, Any] | None) -> list[Any]:
        values = parameters or {}
        return [
            values[name] if process is None else process(values[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]


class Rows:
    """The part of a SQLAlchemy result that the stores read: rows, or how many rows a write hit."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: Sequence[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> Sequence[Any]:
        return self._rows

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


class DriverStatements:
    """The plans of one engine's statements, made on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._plans: OrderedDict[Executable, Plan | None] = OrderedDict()

    def plan(self, statement: Executable, parameters: dict[str, Any] | None) -> Plan | None:
        try:
            plan = self._plans[statement]
        except KeyError:
            plan = self._plans[statement] = self._make(statement, parameters)
            if len(self._plans) > _MAX_PLANS:
                self._plans.popitem(last=False)
            return plan
        self._plans.move_to_end(statement)
        return plan

    def _make(self, statement: Executable, parameters: dict[str, Any] | None) -> Plan | None:
        if isinstance(statement, ExecutableDDLElement):
            # Schema statements take no values (a bulk import's staging table, importing.py).
            return Plan(str(statement.compile(dialect=self._dialect)), (), (), returns_rows=False)
        if not isinstance(statement, sa.Select | sa.Insert | sa.Update | sa.Delete):
            return None
        keys = list(parameters or {})
        compiled = statement.compile(dialect=self._dialect, column_keys=keys)
        names = tuple(compiled.positiontup or ())
        if not set(names) <= set(keys):
            return None  # a value built into the statement: SQLAlchemy binds those itself
        if isinstance(statement, sa.Select):
            if not all(_plain(column.type, self._dialect) for column in statement.selected_columns):
                return None
        elif compiled.returning:
            return None
        # What SQLAlchemy itself applies to each value (a private attribute of its compiler).
        processors: dict[str, Any] = dict(compiled._bind_processors)
        return Plan(
            sql=compiled.string,
            names=names,
            processors=tuple(processors.get(name) for name in names),
            returns_rows=isinstance(statement, sa.Select),
        )

    async def run(
        self, connection: Any, plan: Plan, parameters: dict[str, Any] | list[dict[str, Any]] | None
    ) -> Rows:
        """Run ``plan`` on the asyncpg ``connection``, in whatever transaction it is in: once,
        or, given a list of values, once for each (asyncpg's ``executemany``: no rows, no count)."""
        if _echo.isEnabledFor(logging.INFO):
            _echo.info("%s", plan.sql)
            _echo.info("[on asyncpg's connection] [SQL parameters hidden]")
        try:
            if isinstance(parameters, list):
                await connection.executemany(plan.sql, [plan.arguments(values) for values in parameters])
                return Rows((), -1)
            arguments = plan.arguments(parameters)
            if plan.returns_rows:
                rows = await connection.fetch(plan.sql, *arguments)
                return Rows(rows, len(rows))
            status = await connection.execute(plan.sql, *arguments)
        except Exception as error:
            raise self.translate(error, connection, plan.sql) from None
        # "UPDATE 1", "DELETE 0", "INSERT 0 1": the count is the last word ("CREATE TABLE": none).
        count = status.rpartition(" ")[2]
        return Rows((), int(count) if count.isdigit() else -1)

    def translate(self, error: Exception, connection: Any, sql: str | None = None) -> Exception:
        return translate_driver_error(self._dialect, error, connection, sql)


def translate_driver_error(dialect: Dialect, error: Exception, connection: Any, sql: str | None) -> Exception:
    """``error`` as SQLAlchemy's asyncpg dialect would have raised it (a DBAPIError whose
    ``connection_invalidated`` says whether the connection is gone), or as it is when it is
    not the driver's (an OSError, a timeout), as SQLAlchemy lets those through too."""
    dbapi_class: type[Exception] = dialect.loaded_dbapi.Error
    if isinstance(error, DBAPIError | TimeoutError):
        return error
    dbapi_error: Exception = error
    if not isinstance(error, dbapi_class):
        try:
            # SQLAlchemy's own mapping from asyncpg's exceptions to its DBAPI ones (private).
            AsyncAdapt_asyncpg_connection._handle_exception_no_connection(dialect.loaded_dbapi, error)
        except Exception as translated:
            dbapi_error = translated
    if not isinstance(dbapi_error, dbapi_class):
        return dbapi_error
    closed = (connection is not None and connection.is_closed()) or connection_ending(error)
    invalidated = closed or dialect.is_disconnect(dbapi_error, None, None)  # type: ignore[arg-type]
    return DBAPIError.instance(
        sql,
        None,  # the values stay out of messages, as hide_parameters keeps them out elsewhere
        dbapi_error,
        dbapi_class,
        hide_parameters=True,
        connection_invalidated=invalidated,
        dialect=dialect,
    )


def _plain(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether asyncpg's value for a column of this type is what SQLAlchemy would hand back."""
    if isinstance(type_, sa.TypeDecorator) and not isinstance(type_, UtcDateTime):
        decorator = type(type_)
        unchanged = (
            decorator.process_result_value is sa.TypeDecorator.process_result_value
            and decorator.result_processor is sa.TypeDecorator.result_processor
        )
        return unchanged and _plain(type_.load_dialect_impl(dialect), dialect)
    if isinstance(type_, sa.Numeric):
        return bool(type_.asdecimal) and not isinstance(type_, sa.Float)
    return isinstance(type_, _PLAIN_RESULTS)
