"""An (email, id) index for sorting by email, and case-folded names compared as bytes on MariaDB.

MariaDB would not use the unique index on email alone for ORDER BY email, id: every page sorted
the whole table. And its default collation, accent-insensitive, made q=emile find "Émile" there
and nowhere else; name_folded is already case-folded by the service, so bytes are what to match.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _is_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    op.create_index("ix_students_email_id", "students", ["email", "id"])
    if _is_mysql():
        op.alter_column(
            "students",
            "name_folded",
            existing_type=sa.String(300),
            type_=mysql.VARCHAR(300, collation="utf8mb4_bin"),
            existing_nullable=False,
        )


def downgrade() -> None:
    if _is_mysql():
        op.alter_column(
            "students",
            "name_folded",
            existing_type=mysql.VARCHAR(300, collation="utf8mb4_bin"),
            type_=sa.String(300),
            existing_nullable=False,
        )
    op.drop_index("ix_students_email_id", table_name="students")
