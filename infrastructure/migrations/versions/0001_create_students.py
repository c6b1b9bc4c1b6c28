"""Create the students table with its unique email and keyset indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types as they were at this revision (never import live tables here).
_TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.Uuid(as_uuid=True, native_uuid=True).with_variant(
    sa.Uuid(as_uuid=True, native_uuid=False), "mysql", "mariadb"
)


def upgrade() -> None:
    op.create_table(
        "students",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_folded", sa.String(300), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("department", sa.String(10), nullable=False),
        sa.Column("cgpa", sa.Numeric(4, 2), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_students"),
        sa.UniqueConstraint("email", name="uq_students_email"),
    )
    op.create_index("ix_students_name_id", "students", ["name", "id"])
    op.create_index("ix_students_cgpa_id", "students", ["cgpa", "id"])
    op.create_index("ix_students_created_at_id", "students", ["created_at", "id"])
    op.create_index("ix_students_department_id", "students", ["department", "id"])


def downgrade() -> None:
    op.drop_table("students")
