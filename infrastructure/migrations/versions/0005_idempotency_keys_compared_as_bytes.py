"""Idempotency keys and callers compared as bytes on MariaDB/MySQL, trailing spaces included.

Their default collation ignores case, accents and trailing spaces, so on MariaDB the caller
"ALICE" was replayed the answer stored for "alice", and the keys "order-1", "ORDER-1" and
"order-1 " were one key. PostgreSQL and SQLite compare these columns byte by byte already.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("caller", "idempotency_key")


def _binary_collation() -> str | None:
    """MariaDB's and MySQL's binary collation without padding; None elsewhere (nothing to do)."""
    bind = op.get_bind()
    if bind.dialect.name not in ("mysql", "mariadb"):
        return None
    return "utf8mb4_nopad_bin" if getattr(bind.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


def upgrade() -> None:
    collation = _binary_collation()
    if collation is None:
        return
    for column in _COLUMNS:
        op.alter_column(
            "idempotency_keys",
            column,
            existing_type=sa.String(255),
            type_=mysql.VARCHAR(255, collation=collation),
            existing_nullable=False,
        )


def downgrade() -> None:
    if _binary_collation() is None:
        return
    for column in _COLUMNS:
        op.alter_column(
            "idempotency_keys",
            column,
            existing_type=sa.String(255),
            type_=sa.String(255),
            existing_nullable=False,
        )
