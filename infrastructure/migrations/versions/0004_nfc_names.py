"""Names in one Unicode spelling (NFC), and name_folded recomputed the way searches now fold.

Until this revision a name was stored as the client spelt it, so "José" typed with a combining
accent and "José" typed with one code point were two different names, and a search in one
spelling missed the other. New names are NFC-normalised by the domain; this brings the stored
ones in line. The rule is written out here rather than imported, so that this revision does the
same thing whenever it runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 1000
# The id as 0001 made it: native uuid on PostgreSQL, CHAR(32) hex on MariaDB/MySQL and SQLite.
_ID = sa.Uuid(as_uuid=True, native_uuid=True).with_variant(
    sa.Uuid(as_uuid=True, native_uuid=False), "mysql", "mariadb"
)
_students = sa.table(
    "students",
    sa.column("id", _ID),
    sa.column("name", sa.String()),
    sa.column("name_folded", sa.String()),
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def upgrade() -> None:
    bind = op.get_bind()
    select = sa.select(_students.c.id, _students.c.name, _students.c.name_folded).order_by(_students.c.id)
    update = (
        sa.update(_students)
        .where(_students.c.id == sa.bindparam("target_id"))
        .values(name=sa.bindparam("new_name"), name_folded=sa.bindparam("new_folded"))
    )
    last = None
    while True:
        page = select if last is None else select.where(_students.c.id > last)
        rows = bind.execute(page.limit(_BATCH)).all()
        if not rows:
            return
        changed = []
        for student_id, name, folded in rows:
            new_name = _nfc(name).strip()
            new_folded = _nfc(new_name.casefold())
            if (new_name, new_folded) != (name, folded):
                changed.append({"target_id": student_id, "new_name": new_name, "new_folded": new_folded})
        if changed:
            bind.execute(update, changed)
        last = rows[-1][0]


def downgrade() -> None:
    # Nothing to undo: the NFC spelling of a name is the same name.
    pass
