"""Test data builders: a valid student unless a test says otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import UUID

from domain.student import Student

_serial = count(1)


def a_student(**overrides: Any) -> Student:
    n = next(_serial)
    values: dict[str, Any] = {
        "id": UUID(int=(0x7 << 76) | (0b10 << 62) | (1 << 40) | n),
        "name": f"Student {n:05d}",
        "email": f"student{n}@example.org",
        "department": "CS",
        "cgpa": Decimal("7.50"),
        "now": datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return Student.register(**values)
