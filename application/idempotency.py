"""Idempotent registration: what is remembered about a request key, and the port that stores it.

A client that retries a POST with the same ``Idempotency-Key`` must get the first answer again
rather than a second student. The record of that first answer is written in the same transaction
as the student, so the two can never disagree.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, get_type_hints
from uuid import UUID

from domain.student import Student

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IdempotencyPolicy:
    # How long a completed key is replayed before it may be used afresh (and is purged).
    ttl: timedelta = timedelta(hours=24)
    # A claim older than this whose request never finished (a crashed process) may be taken over.
    abandon_after: timedelta = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's key, scoped to the caller so that two callers can never collide."""

    caller: str
    key: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    caller: str
    key: str
    fingerprint: str
    created_at: datetime
    expires_at: datetime
    # Both set once the request has completed; until then the key is "in flight".
    student_id: UUID | None = None
    snapshot: str | None = None

    @property
    def completed(self) -> bool:
        return self.snapshot is not None


class IdempotencyStore(ABC):
    """Keeps idempotency records. Like every repository it never commits."""

    @abstractmethod
    async def get(self, caller: str, key: str) -> IdempotencyRecord | None: ...

    @abstractmethod
    async def claim(self, record: IdempotencyRecord) -> None:
        """Insert an in-flight record; raises ``IdempotencyKeyInFlight`` if the key already exists."""

    @abstractmethod
    async def take_over(self, record: IdempotencyRecord, *, previous_created_at: datetime) -> None:
        """Replace an expired or abandoned record, only if it is still the one that was read.

        Raises ``IdempotencyKeyInFlight`` when another request took it first.
        """

    @abstractmethod
    async def complete(
        self, caller: str, key: str, *, created_at: datetime, student_id: UUID, snapshot: str
    ) -> None:
        """Record the answer on the claim made at ``created_at``; raises ``IdempotencyKeyInFlight``
        if that claim is no longer there (taken over after ``abandon_after``): the work of this
        request is then rolled back with it, and the key answers with the taker's result."""

    @abstractmethod
    async def release(self, caller: str, key: str, *, created_at: datetime) -> None:
        """Forget an in-flight claim whose request failed, so a retry runs it again."""

    @abstractmethod
    async def purge_expired(self, now: datetime) -> int:
        """Delete every record that expired before ``now``; returns how many."""


def fingerprint(*values: str | Decimal | int) -> str:
    """A digest of the request's content: the same key with other content is refused."""
    canonical = json.dumps([str(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def registration_fingerprint(student: Student) -> str:
    """What a registration asked for, in the form the domain keeps it: "7.50" and "7.5", or "cs"
    and "CS", are one request, since they make the same student."""
    return fingerprint(student.name, student.email, student.department, student.cgpa)


# How each type of a stored field is written into a snapshot and read back out of one. A new
# field of one of these types needs no edit here; a field of a new type names its pair.
_ENCODE: dict[type, Callable[[Any], Any]] = {
    UUID: str,
    Decimal: str,
    datetime: datetime.isoformat,
    str: str,
    int: int,
}
_DECODE: dict[type, Callable[[Any], Any]] = {
    UUID: UUID,
    Decimal: Decimal,
    datetime: datetime.fromisoformat,
    str: str,
    int: int,
}


@cache
def _stored_fields() -> tuple[tuple[str, type], ...]:
    """The student's constructor fields and their types: what a store keeps of it, in order."""
    hints = get_type_hints(Student)
    return tuple((field.name, hints[field.name]) for field in fields(Student) if field.init)


def snapshot_of(student: Student) -> str:
    """The student as the answer to an idempotent request: every stored field, as JSON."""
    return json.dumps({name: _ENCODE[kind](getattr(student, name)) for name, kind in _stored_fields()})


def student_from_snapshot(snapshot: str) -> Student:
    data = json.loads(snapshot)
    return Student(**{name: _DECODE[kind](data[name]) for name, kind in _stored_fields()})
