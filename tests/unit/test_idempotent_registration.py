"""Idempotency rules of RegisterStudent on the in-memory unit of work."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from application.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from application.idempotency import IdempotencyKey, IdempotencyPolicy, IdempotencyRecord, fingerprint
from application.use_cases.purge_idempotency_keys import PurgeExpiredIdempotencyKeys
from application.use_cases.register_student import RegisterStudent, RegisterStudentCommand
from domain.errors import EmailAlreadyRegistered, InvalidStudentData
from infrastructure.memory.store import InMemoryDatabase
from infrastructure.memory.unit_of_work import InMemoryUnitOfWork
from tests.support.fakes import FixedClock, SequentialIds

KEY = IdempotencyKey("alice", "key-1")
POLICY = IdempotencyPolicy(ttl=timedelta(hours=24), abandon_after=timedelta(seconds=60))
# What command() registers, as the domain keeps it.
FINGERPRINT = fingerprint("Ada", "ada@example.org", "CS", Decimal("8.50"))


def command(
    email: str = "ada@example.org", key: IdempotencyKey | None = KEY, cgpa: str = "8.5"
) -> RegisterStudentCommand:
    return RegisterStudentCommand("Ada", email, "CS", cgpa, idempotency_key=key)


@pytest.fixture
def register(memory_database: InMemoryDatabase, clock: FixedClock, ids: SequentialIds) -> RegisterStudent:
    return RegisterStudent(InMemoryUnitOfWork(memory_database), clock, ids, POLICY)


async def test_retry_replays_the_first_answer_without_registering_again(
    register: RegisterStudent, memory_database: InMemoryDatabase
) -> None:
    first = await register.execute(command())
    again = await register.execute(command())
    assert not first.replayed
    assert again.replayed
    assert again.student == first.student
    assert len(memory_database.students) == 1


async def test_replay_shows_the_student_as_first_registered(
    register: RegisterStudent, memory_database: InMemoryDatabase
) -> None:
    first = await register.execute(command())
    memory_database.students[first.student.id].name = "Changed later"
    assert (await register.execute(command())).student.name == "Ada"


async def test_same_key_with_other_content_is_refused(register: RegisterStudent) -> None:
    await register.execute(command())
    with pytest.raises(IdempotencyKeyReused):
        await register.execute(command(cgpa="9.0"))


@pytest.mark.parametrize(
    "retry",
    [
        RegisterStudentCommand("Ada", "ada@example.org", "CS", "8.50", idempotency_key=KEY),
        RegisterStudentCommand(" Ada ", "ADA@example.org", "cs", Decimal("8.5"), idempotency_key=KEY),
        RegisterStudentCommand("Ada", "ada@example.org", "CS", 8.5, idempotency_key=KEY),  # type: ignore[arg-type]
    ],
)
async def test_a_retry_written_differently_but_meaning_the_same_is_replayed(
    register: RegisterStudent, memory_database: InMemoryDatabase, retry: RegisterStudentCommand
) -> None:
    # Found in review: "7.50" for "7.5" or "cs" for "CS" was 422 idempotency-key-reused.
    first = await register.execute(command())
    if not isinstance(retry.cgpa, Decimal | str):
        with pytest.raises(InvalidStudentData):  # a float is not a CGPA the domain takes
            await register.execute(retry)
        return
    again = await register.execute(retry)
    assert again.replayed
    assert again.student == first.student
    assert len(memory_database.students) == 1


async def test_keys_are_scoped_to_the_caller(
    register: RegisterStudent, memory_database: InMemoryDatabase
) -> None:
    await register.execute(command(email="a@example.org"))
    other = await register.execute(command(email="b@example.org", key=IdempotencyKey("bob", "key-1")))
    assert not other.replayed
    assert len(memory_database.students) == 2


async def test_a_key_in_flight_is_409(
    register: RegisterStudent, memory_database: InMemoryDatabase, clock: FixedClock
) -> None:
    memory_database.idempotency[("alice", "key-1")] = IdempotencyRecord(
        "alice", "key-1", FINGERPRINT, clock.current, clock.current + POLICY.ttl
    )
    with pytest.raises(IdempotencyKeyInFlight):
        await register.execute(command())
    assert memory_database.students == {}


async def test_an_abandoned_claim_is_taken_over(
    register: RegisterStudent, memory_database: InMemoryDatabase, clock: FixedClock
) -> None:
    long_ago = clock.current - timedelta(minutes=5)
    memory_database.idempotency[("alice", "key-1")] = IdempotencyRecord(
        "alice", "key-1", FINGERPRINT, long_ago, long_ago + POLICY.ttl
    )
    result = await register.execute(command())
    assert not result.replayed
    assert len(memory_database.students) == 1


async def test_a_failed_request_releases_its_key(
    register: RegisterStudent, memory_database: InMemoryDatabase
) -> None:
    await register.execute(command(email="taken@example.org", key=None))
    with pytest.raises(EmailAlreadyRegistered):
        await register.execute(command(email="taken@example.org"))
    assert memory_database.idempotency == {}


async def test_invalid_input_claims_nothing(
    register: RegisterStudent, memory_database: InMemoryDatabase
) -> None:
    with pytest.raises(InvalidStudentData):
        await register.execute(command(cgpa="11"))
    assert memory_database.idempotency == {}


async def test_an_expired_key_registers_afresh_and_is_purged(
    memory_database: InMemoryDatabase, ids: SequentialIds
) -> None:
    clock = FixedClock()
    register = RegisterStudent(InMemoryUnitOfWork(memory_database), clock, ids, POLICY)
    await register.execute(command(email="a@example.org"))
    clock.current += timedelta(hours=25)
    # Past its expiry the key means nothing: other content under it is a new request, not a 422.
    second = await register.execute(command(email="b@example.org"))
    assert not second.replayed
    assert len(memory_database.students) == 2

    clock.current += timedelta(hours=25)
    purged = await PurgeExpiredIdempotencyKeys(InMemoryUnitOfWork(memory_database), clock).execute()
    assert purged == 1
    assert memory_database.idempotency == {}
