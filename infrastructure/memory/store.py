"""What the in-memory units of work share: the committed state, replaced whole on every commit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from application.idempotency import IdempotencyRecord
from domain.student import Student


@dataclass
class InMemoryDatabase:
    """What is committed. Create one per app or per test: it is never shared through a class.

    A commit never changes these dicts in place: it builds new ones and swaps them in, so a unit of
    work that kept a reference to them at its start still holds exactly what it started from.
    """

    students: dict[UUID, Student] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    # Held by a unit of work that read a student to change it (``get(lock=True)``) until it ends:
    # one such writer at a time, as SQLite's BEGIN IMMEDIATE does, coarser than a row lock.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
