"""What happened to students, recorded by the entity as it happens, acted on once it is committed."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Something that happened in the domain; handlers see it only after its transaction commits."""


@dataclass(frozen=True, slots=True)
class StudentRegistered(DomainEvent):
    student_id: UUID


@dataclass(frozen=True, slots=True)
class StudentRevised(DomainEvent):
    student_id: UUID
    version: int  # the version the revision made


@dataclass(frozen=True, slots=True)
class StudentRemoved(DomainEvent):
    student_id: UUID


@dataclass(frozen=True, slots=True)
class StudentsImported(DomainEvent):
    """Many students registered or revised at once, by a bulk import: counted, not listed."""

    registered: int = 0
    revised: int = 0
