"""Drop the (email, id) index: the unique index on email serves sort=email on its own now.

Email is unique and NOT NULL, so in an order that reaches email the keys after it never decide;
the list query stops its ORDER BY and its "after" bound there (infrastructure/sqlalchemy/
repository.py, ``_decisive``). Migration 0003 added this index because MariaDB would not read
the unique index for ORDER BY email, id; for ORDER BY email it does, as PostgreSQL and SQLite
do. It was one more index in random order for every bulk import to keep up, for nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_students_email_id", table_name="students")


def downgrade() -> None:
    # The code before 0006 orders by (email, id) and needs the index back to seek on MariaDB.
    op.create_index("ix_students_email_id", "students", ["email", "id"])
