"""The relational schema, as SQLAlchemy Core tables. Alembic migrations create it; nothing else does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend, with microseconds.

    PostgreSQL keeps ``timestamptz``; SQLite and MariaDB keep naive UTC, which is read back as UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the schema stores UTC only")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            # asyncpg already returns timestamptz as aware UTC datetimes: skip a call per value.
            return self.impl_instance.result_processor(dialect, coltype)
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# CHAR(32) hex on SQLite and MariaDB/MySQL, native uuid on PostgreSQL: both sort in UUIDv7 time order.
StudentId = sa.Uuid(as_uuid=True, native_uuid=True).with_variant(
    sa.Uuid(as_uuid=True, native_uuid=False), "mysql", "mariadb"
)

students = sa.Table(
    "students",
    metadata,
    sa.Column("id", StudentId, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    # The name case-folded by the application, so that ``q`` matches case-insensitively and the
    # same way on every backend (SQLite's lower() only knows ASCII). Compared as bytes on MariaDB,
    # whose default collation would also ignore accents.
    sa.Column(
        "name_folded",
        sa.String(300).with_variant(mysql.VARCHAR(300, collation="utf8mb4_bin"), "mysql", "mariadb"),
        nullable=False,
    ),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("department", sa.String(10), nullable=False),
    sa.Column("cgpa", sa.Numeric(4, 2, asdecimal=True), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.UniqueConstraint("email", name="uq_students_email"),
    # One composite index per keyset order, each ending in id, so a page seeks instead of scanning.
    # Not for email: it is unique, so an order stops there and uq_students_email serves it alone.
    sa.Index("ix_students_name_id", "name", "id"),
    sa.Index("ix_students_cgpa_id", "cgpa", "id"),
    sa.Index("ix_students_created_at_id", "created_at", "id"),
    sa.Index("ix_students_department_id", "department", "id"),
)


class ExactText(sa.TypeDecorator[str]):
    """Text compared byte for byte on every backend: case, accents and trailing spaces count.

    PostgreSQL and SQLite do so by default; MariaDB and MySQL need a binary collation without
    padding, which the two name differently (see migration 0005).
    """

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
            length = getattr(self.impl_instance, "length", None)
            return dialect.type_descriptor(mysql.VARCHAR(length, collation=collation))
        return dialect.type_descriptor(self.impl_instance)


idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    # Who the key belongs to and the key itself: two callers, or two keys, that differ in a
    # letter's case are two, never one.
    sa.Column("caller", ExactText(255), primary_key=True),
    sa.Column("idempotency_key", ExactText(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("student_id", StudentId, nullable=True),
    sa.Column("snapshot", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_idempotency_keys_expires_at", "expires_at"),
)


def columns_of(entity: type[Any], table: sa.Table, **renamed: str) -> tuple[sa.Column[Any], ...]:
    """``table``'s column for each constructor field of the dataclass ``entity``, found by name
    (``renamed``: field -> column where they differ), in the order of the entity's fields. Fields
    the constructor does not take (a student's ``events``) are not stored.

    A select of these columns maps a row with ``entity(*row)``: positional, which is cheapest, and
    right by construction, since the positions come from the names.
    """
    return tuple(
        table.c[renamed.get(field.name, field.name)] for field in dataclasses.fields(entity) if field.init
    )


def _staged_column(name: str) -> sa.Column[Any]:
    return sa.Column(name, students.c[name].type, nullable=False)


# One import's rows while it runs (infrastructure/sqlalchemy/importing.py): a temporary table,
# which each connection has its own of, made and dropped by the import. Never migrated. Keyed by
# line (a batch is a range of lines) and by id, which tells the students the import stored
# itself; both grow at their end, as the lines do. An import that revises students is also keyed
# by (email, line), to page through the rows a stored student's email matches in that order. One
# that only registers goes without that key: its emails come in no order, so keeping it is most
# of what staging would cost, and such an import sorts its rows by email only once a clash is
# known to be there. All are constraints, declared inside CREATE TABLE: MariaDB/MySQL would
# commit the transaction for a CREATE INDEX, even on a temporary table.
def _staging_table(*, by_email: bool) -> sa.Table:
    keys: list[sa.Constraint] = [sa.PrimaryKeyConstraint("line"), sa.UniqueConstraint("id")]
    if by_email:
        keys.append(sa.UniqueConstraint("email", "line"))
    return sa.Table(
        "student_import_rows",
        sa.MetaData(),
        _staged_column("email"),
        # Given by the import, never made up: no sequence (SERIAL, AUTO_INCREMENT) behind it.
        sa.Column("line", sa.Integer(), nullable=False, autoincrement=False),
        *(_staged_column(name) for name in ("id", "name", "name_folded", "department")),
        # The CGPA in hundredths: a whole number, which COPY encodes at a fifteenth of the cost
        # of a numeric (importing.py makes the CGPA of it again, exactly, on every backend).
        sa.Column("cgpa_cents", sa.SmallInteger(), nullable=False),
        *keys,
        prefixes=["TEMPORARY"],
    )


student_import_rows = _staging_table(by_email=True)
# The same table without the (email, line) key: what an import that only registers stages.
student_import_rows_by_line = _staging_table(by_email=False)
