"""RegisterStudent: a new student; with an idempotency key, a retry answers with the first result."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from application.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from application.idempotency import (
    IdempotencyKey,
    IdempotencyPolicy,
    IdempotencyRecord,
    registration_fingerprint,
    snapshot_of,
    student_from_snapshot,
)
from application.ports import Clock, IdGenerator, UnitOfWork
from domain.errors import EmailAlreadyRegistered, InvalidStudentData
from domain.student import Student


@dataclass(frozen=True, slots=True)
class RegisterStudentCommand:
    name: str
    email: str
    department: str
    cgpa: Decimal | int | str
    # Makes a retried request answer with the first result instead of registering twice.
    idempotency_key: IdempotencyKey | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    student: Student
    # True when this is the stored answer to an earlier request with the same key.
    replayed: bool = False


class RegisterStudent:
    """A new student; with an idempotency key, retries answer with the first registration."""

    raises: ClassVar[tuple[type[Exception], ...]] = (
        InvalidStudentData,
        EmailAlreadyRegistered,
        IdempotencyKeyInFlight,
        IdempotencyKeyReused,
    )

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
        policy: IdempotencyPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._policy = policy or IdempotencyPolicy()

    async def execute(self, command: RegisterStudentCommand) -> Registration:
        now = self._clock.now()
        # Validate before anything is claimed or stored: bad input changes nothing.
        student = Student.register(
            id=self._ids.new_id(),
            name=command.name,
            email=command.email,
            department=command.department,
            cgpa=command.cgpa,
            now=now,
        )
        key = command.idempotency_key
        if key is None:
            await self._store(student, None)
            return Registration(student)

        claim = IdempotencyRecord(
            caller=key.caller,
            key=key.key,
            fingerprint=registration_fingerprint(student),
            created_at=now,
            expires_at=now + self._policy.ttl,
        )
        earlier = await self._claim(claim)
        if earlier is not None:
            return earlier
        try:
            await self._store(student, claim)
        except BaseException:
            # Forget the claim so that a retry runs the request again; if even that fails, the
            # claim is abandoned and may be taken over after policy.abandon_after.
            with contextlib.suppress(Exception):
                async with self._uow as uow:
                    await uow.idempotency.release(key.caller, key.key, created_at=claim.created_at)
                    await uow.commit()
            raise
        return Registration(student)

    async def _claim(self, claim: IdempotencyRecord) -> Registration | None:
        """Reserve the key in a short transaction of its own, or answer from an earlier request.

        The claim commits before the work starts so that a concurrent retry, in any process,
        sees the key in flight and is told so (409) instead of waiting or registering again.
        """
        async with self._uow as uow:
            existing = await uow.idempotency.get(claim.caller, claim.key)
            if existing is None:
                await uow.idempotency.claim(claim)
            elif existing.expires_at <= claim.created_at:
                await uow.idempotency.take_over(claim, previous_created_at=existing.created_at)
            elif existing.fingerprint != claim.fingerprint:
                raise IdempotencyKeyReused()
            elif existing.snapshot is not None:
                return Registration(student_from_snapshot(existing.snapshot), replayed=True)
            elif claim.created_at - existing.created_at < self._policy.abandon_after:
                raise IdempotencyKeyInFlight()
            else:
                await uow.idempotency.take_over(claim, previous_created_at=existing.created_at)
            await uow.commit()
        return None

    async def _store(self, student: Student, claim: IdempotencyRecord | None) -> None:
        async with self._uow as uow:
            # The store's unique index refuses a taken email (EmailAlreadyRegistered), races
            # included: no read before the write, which would cost a round trip on every POST.
            await uow.students.add(student)
            if claim is not None:
                await uow.idempotency.complete(
                    claim.caller,
                    claim.key,
                    created_at=claim.created_at,
                    student_id=student.id,
                    snapshot=snapshot_of(student),
                )
            await uow.commit()
