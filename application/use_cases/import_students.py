"""ImportStudents: a whole file of students in one transaction, every row or none of them.

Each row is checked by the rules a single registration obeys (``Student.register``). The rows
that pass are staged in the unit of work's transaction as they come (StudentImport in ports.py),
so memory stays flat however long the file is; the store then finds the emails a file repeats
or a stored student already has, and only when no row is wrong does anything get stored. A
rejected import names each bad row by its line, field and reason: the first ``max_errors`` of
them in line order, and how many there were in all.

``on_conflict="update"`` turns a row whose email a stored student has from an error into a
revision of that student to the row's values (``Student.apply``: its version bumped, or nothing
at all when the values are those it has). ``dry_run`` does every check and counts, then rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, NamedTuple, Protocol
from uuid import UUID

from application.errors import (
    ApplicationError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    WritesCollided,
)
from application.idempotency import IdempotencyKey, IdempotencyPolicy, IdempotencyRecord, fingerprint
from application.ports import Clock, EmailClash, IdGenerator, StagedStudent, StudentImport, UnitOfWork
from application.wording import counted
from domain.errors import EmailAlreadyRegistered, FieldError, InvalidStudentData
from domain.student import Student, StudentChanges

DEFAULT_MAX_ERRORS = 100
DEFAULT_BATCH_SIZE = 5000
# Rows checked between two turns of the event loop (some 5 ms of work).
_YIELD_EVERY = 256


class OnConflict(StrEnum):
    """What a row whose email a stored student has amounts to."""

    ERROR = "error"
    UPDATE = "update"


class ImportRow(NamedTuple):
    """One row as a file states it, before any rule is applied. ``problems``: what made the row
    unreadable as a student at all (a wrong number of fields, a line that is not JSON); such a
    row is an error whatever its values. A named tuple: a reader makes one per line of a file,
    at a quarter of the cost of a frozen dataclass."""

    line: int
    name: object = None
    email: object = None
    department: object = None
    cgpa: object = None
    problems: tuple[FieldError, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class RowError:
    line: int
    field: str
    message: str


class ImportRejected(ApplicationError):
    """Some rows are wrong, so nothing was imported. ``errors``: the first of them by line;
    ``total``: how many errors in all (``total - len(errors)`` more were not listed)."""

    def __init__(self, errors: list[RowError], total: int, rows: int) -> None:
        self.errors = tuple(errors)
        self.total = total
        self.rows = rows
        more = f" (the first {len(errors)} listed)" if total > len(errors) else ""
        super().__init__(f"{counted(total, 'error')} in {counted(rows, 'row')}{more}; nothing was imported")


class UnreadableFile(ApplicationError):
    """The file cannot be read on from ``line``: no header, a line too long, an open quote."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}; nothing was imported")


class ImportConflict(ApplicationError):
    """Another writer crossed the import while it ran, and nothing was imported: it registered one
    of the file's emails (or took the import's Idempotency-Key) first (TAKEN), or its writes and
    the import's waited on each other until the database undid the import's (CROSSED, from
    WritesCollided). Run it again: without revisions a taken email then shows as a row error;
    with them it is revised; a crossing usually goes through."""

    TAKEN = "another writer registered one of the file's emails while this import ran"
    CROSSED = "another writer's changes crossed this import's and the database undid the import"

    def __init__(self, cause: str = TAKEN, *, revising: bool = False) -> None:
        advice = "run it again to see which" if cause == self.TAKEN and not revising else "run it again"
        super().__init__(f"{cause}; nothing was imported; {advice}")


@dataclass(frozen=True, slots=True)
class ImportSummary:
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool = False
    # True when this is the stored answer to an earlier import with the same Idempotency-Key.
    replayed: bool = False

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class ImportStudentsCommand:
    rows: AsyncIterable[ImportRow]
    on_conflict: OnConflict = OnConflict.ERROR
    dry_run: bool = False
    # Told what the import is doing once the rows are read: "checking", "storing" ("counting" in
    # a dry run), "committing".
    on_phase: Callable[[str], None] | None = None
    # Makes a retried import answer with the first one's summary instead of running again.
    idempotency_key: IdempotencyKey | None = None
    # Take the students table for the import's own while it runs: faster, and everyone else
    # waits (StudentRepository.importing). Not part of what an idempotency key compares: the
    # same rows give the same students either way.
    exclusive: bool = False


class _Digest(Protocol):
    """A running hash, as hashlib's are."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass
class _Checked:
    """The rows read so far: how many, and the first errors by line (a bounded heap)."""

    limit: int
    # What the rows say, for an idempotency key: the same file, the same digest. Kept only when
    # the import has a key (it costs more per row than all the rest of the reading).
    digest: _Digest | None = None
    rows: int = 0
    total_errors: int = 0
    errors: list[RowError] = field(default_factory=list)

    # Whether every row has been read (the digest is the file's, not a part of it).
    complete: bool = False

    def read(self, row: ImportRow) -> None:
        self.rows += 1
        if self.digest is not None:
            self.digest.update(repr((row.line, row.name, row.email, row.department, row.cgpa)).encode())

    def reject(self, line: int, problems: tuple[FieldError, ...]) -> None:
        for problem in problems:
            self.total_errors += 1
            error = RowError(line, problem.field, problem.message)
            # Rows come in line order: once the list is full, no later error belongs in it.
            if len(self.errors) < self.limit:
                self.errors.append(error)


_SUMMARY_COUNTS = ("rows", "created", "updated", "unchanged")


def _fingerprint(command: ImportStudentsCommand, checked: _Checked) -> str:
    if checked.digest is None:
        raise AssertionError("an import without a key has no digest to compare")
    return fingerprint("import", command.on_conflict.value, checked.digest.hexdigest())


def _expired(record: IdempotencyRecord) -> IdempotencyRecord:
    """An expired record: taken over, never replayed (it answers as an abandoned claim)."""
    return replace(record, snapshot=None)


class ImportStudents:
    """Students from a file, all or none: see the module's docstring."""

    raises: ClassVar[tuple[type[Exception], ...]] = (
        ImportRejected,
        UnreadableFile,
        IdempotencyKeyInFlight,
        IdempotencyKeyReused,
        ImportConflict,
    )
    # Also ExclusiveImportUnavailable, only when the command asks for ``exclusive``, which only
    # the command line does (an HTTP import never takes the table from the requests around it).

    def __init__(
        self,
        uow: UnitOfWork,
        clock: Clock,
        ids: IdGenerator,
        policy: IdempotencyPolicy | None = None,
        *,
        max_errors: int = DEFAULT_MAX_ERRORS,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._policy = policy or IdempotencyPolicy()
        self._max_errors = max_errors
        self._batch_size = batch_size

    async def execute(self, command: ImportStudentsCommand) -> ImportSummary:
        now = self._clock.now()
        # A dry run changes nothing, so there is nothing for a key to make safe to repeat.
        key = command.idempotency_key if not command.dry_run else None
        checked = _Checked(self._max_errors, hashlib.sha256() if key is not None else None)
        earlier = await self._earlier(key, now) if key is not None else None
        if earlier is not None and earlier.completed:
            return await self._replay(command, checked, earlier)
        try:
            return await self._import(command, checked, now, key, earlier)
        except (EmailAlreadyRegistered, IdempotencyKeyInFlight, ImportRejected, WritesCollided) as exc:
            if key is not None and checked.complete:
                # The same import, sent twice at once, may have committed first (its emails are
                # then taken, or its key): the answer is that import's.
                first = await self._earlier(key, now)
                same = first is not None and first.fingerprint == _fingerprint(command, checked)
                if first is not None and first.completed and same:
                    return await self._replay(command, checked, first, read=False)
            if isinstance(exc, ImportRejected):
                raise
            cause = ImportConflict.CROSSED if isinstance(exc, WritesCollided) else ImportConflict.TAKEN
            raise ImportConflict(cause, revising=command.on_conflict is OnConflict.UPDATE) from None

    async def _import(
        self,
        command: ImportStudentsCommand,
        checked: _Checked,
        now: datetime,
        key: IdempotencyKey | None,
        earlier: IdempotencyRecord | None,
    ) -> ImportSummary:
        phase = command.on_phase or (lambda _: None)
        update = command.on_conflict is OnConflict.UPDATE
        async with self._uow as uow:
            staged = uow.students.importing(revising=update, exclusive=command.exclusive)
            try:
                await staged.stage(self._batches(command.rows, checked, now, staged.give_up_storing))
                phase("checking")
                clashes, clash_count = await staged.clashes(with_stored=not update, limit=self._max_errors)
                if checked.total_errors or clash_count:
                    raise self._rejection(checked, clashes, clash_count)
                # A dry run stores nothing: it counts what it would create.
                phase("counting" if command.dry_run else "storing")
                updated = unchanged = 0
                if update:
                    updated, unchanged = await self._revise(staged, now, dry_run=command.dry_run)
                created = await staged.insert_new(now=now, dry_run=command.dry_run)
            except BaseException:
                # The rollback undoes the staging where the store can; where it cannot, this
                # does, if the transaction still takes statements. Never in place of the error.
                with contextlib.suppress(Exception):
                    await staged.discard()
                raise
            await staged.discard()
            summary = ImportSummary(checked.rows, created, updated, unchanged, dry_run=command.dry_run)
            if not command.dry_run:
                if key is not None:
                    await self._remember(uow, key, _fingerprint(command, checked), now, summary, earlier)
                phase("committing")
                await uow.commit()
        return summary

    async def _earlier(self, key: IdempotencyKey, now: datetime) -> IdempotencyRecord | None:
        """The record of an earlier import with this key that still counts, if any."""
        async with self._uow as uow:
            record = await uow.idempotency.get(key.caller, key.key)
        if record is None:
            return None
        if not record.completed:
            # The keys of imports are recorded with their result: this one is a registration's.
            if now - record.created_at < self._policy.abandon_after:
                raise IdempotencyKeyInFlight()
            return record
        return record if record.expires_at > now else _expired(record)

    async def _replay(
        self,
        command: ImportStudentsCommand,
        checked: _Checked,
        earlier: IdempotencyRecord,
        *,
        read: bool = True,
    ) -> ImportSummary:
        """The first import's summary, if this one sends what it sent (read, not imported)."""
        if read:
            async for row in command.rows:
                checked.read(row)
            checked.complete = True
        if earlier.fingerprint != _fingerprint(command, checked) or earlier.snapshot is None:
            raise IdempotencyKeyReused()
        try:
            stored = json.loads(earlier.snapshot)
            rows, created, updated, unchanged = (int(stored[name]) for name in _SUMMARY_COUNTS)
        except (ValueError, KeyError, TypeError):
            raise IdempotencyKeyReused() from None  # the key answered another kind of request
        return ImportSummary(rows, created, updated, unchanged, replayed=True)

    async def _remember(
        self,
        uow: UnitOfWork,
        key: IdempotencyKey,
        fingerprint: str,
        now: datetime,
        summary: ImportSummary,
        earlier: IdempotencyRecord | None,
    ) -> None:
        """Record the summary in the import's own transaction: both are kept, or neither."""
        record = IdempotencyRecord(
            caller=key.caller,
            key=key.key,
            fingerprint=fingerprint,
            created_at=now,
            expires_at=now + self._policy.ttl,
            snapshot=json.dumps({name: getattr(summary, name) for name in _SUMMARY_COUNTS}),
        )
        if earlier is None:
            # Another import with this key committed first: IdempotencyKeyInFlight, retry to replay.
            await uow.idempotency.claim(record)
        else:
            await uow.idempotency.take_over(record, previous_created_at=earlier.created_at)

    async def _batches(
        self,
        rows: AsyncIterable[ImportRow],
        checked: _Checked,
        now: datetime,
        refused: Callable[[], None] = lambda: None,
    ) -> AsyncIterator[list[StagedStudent]]:
        """The rows that pass the domain's rules, in batches; the others are counted as errors,
        and the first of them is told to ``refused``: the import will not be stored."""
        batch: list[StagedStudent] = []
        # Ids are made _YIELD_EVERY at a time (a quarter of the cost of one by one), and taken
        # from the end of the list, which is why it is reversed: a row's id is the one after the
        # row before's, as the primary key's index likes them.
        ids: list[UUID] = []
        register = Student.register
        async for row in rows:
            checked.read(row)
            if checked.rows % _YIELD_EVERY == 0:
                # Checking is CPU work: let the event loop run the rest (the store's statements
                # for the batch before, other requests of the server) every few milliseconds.
                await asyncio.sleep(0)
            if row.problems:
                if not checked.total_errors:
                    refused()
                checked.reject(row.line, row.problems)
                continue
            if not ids:
                ids = self._ids.new_ids(_YIELD_EVERY)
                ids.reverse()
            try:
                student = register(
                    id=ids[-1],
                    name=row.name,  # type: ignore[arg-type]  # the domain judges what it is given
                    email=row.email,  # type: ignore[arg-type]
                    department=row.department,  # type: ignore[arg-type]
                    cgpa=row.cgpa,  # type: ignore[arg-type]
                    now=now,
                )
            except InvalidStudentData as exc:
                if not checked.total_errors:
                    refused()
                checked.reject(row.line, exc.errors)
                continue
            ids.pop()
            # The import records one event for all it stores (StudentImport), not one per row.
            student.events.clear()
            batch.append(StagedStudent(row.line, student))
            if len(batch) >= self._batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
        checked.complete = True

    def _rejection(self, checked: _Checked, clashes: list[EmailClash], clash_count: int) -> ImportRejected:
        found = [
            RowError(
                clash.line,
                "email",
                f"is also on line {clash.earlier_line}"
                if clash.earlier_line is not None
                else "is already registered",
            )
            for clash in clashes
        ]
        first = heapq.nsmallest(self._max_errors, [*checked.errors, *found])
        return ImportRejected(first, checked.total_errors + clash_count, checked.rows)

    async def _revise(self, staged: StudentImport, now: datetime, *, dry_run: bool) -> tuple[int, int]:
        """Revise each stored student a row names by email to the row's values; (updated, unchanged)."""
        updated = unchanged = 0
        after: StagedStudent | None = None
        while matches := await staged.stored_matches(after, self._batch_size):
            revised: list[tuple[Student, int]] = []
            for row, stored in matches:
                version = stored.version
                new = row.student
                changes = StudentChanges(name=new.name, department=new.department, cgpa=new.cgpa)
                if stored.apply(changes, now=now):
                    stored.events.clear()  # counted once, by StudentImport.revise
                    revised.append((stored, version))
                else:
                    unchanged += 1
            await staged.revise(revised, dry_run=dry_run)
            updated += len(revised)
            after = matches[-1][0]
        return updated, unchanged
