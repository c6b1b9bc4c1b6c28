"""The tutorial's models module: the ORM class mapped on the service's students table."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from bench.apps.flat.database import Base
from domain.ids import UuidV7Generator

# The shared table keys students by UUIDv7; using the same generator as the service keeps inserts
# at the right-hand edge of the primary key index for both apps, so neither is favoured.
_ids = UuidV7Generator()


def now() -> datetime:
    return datetime.now(UTC)


class Student(Base):
    __tablename__ = "students"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_ids.new_id)
    name: Mapped[str] = mapped_column(String(100))
    name_folded: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    department: Mapped[str] = mapped_column(String(10))
    cgpa: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    version: Mapped[int] = mapped_column(default=1)
