"""A tiny committed store that in-memory units of work read from and commit into."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from application.idempotency import IdempotencyRecord
from domain.student import Student


@dataclass
class InMemoryDatabase:
    """What is committed. Create one per app or per test: it is never shared through a class."""

    students: dict[UUID, Student] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    # Commits are applied one at a time, so a check made at commit time holds for the whole apply.
    commit_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Held by a unit of work that read a student to change it (``get(lock=True)``) until it ends:
    # one such writer at a time, as SQLite's BEGIN IMMEDIATE does, coarser than a row lock.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
