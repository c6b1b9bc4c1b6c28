"""Errors the domain raises. The interface layer alone decides how each one is shown to a client."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


class DomainError(Exception):
    """Base class for every rule violation the domain reports."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rejected field: which one, and why."""

    field: str
    message: str


class InvalidStudentData(DomainError):
    """Input that breaks a value rule. Carries every offending field, not only the first."""

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


class StudentNotFound(DomainError):
    def __init__(self, student_id: UUID) -> None:
        self.student_id = student_id
        super().__init__(f"student {student_id} does not exist")


class EmailAlreadyRegistered(DomainError):
    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__("a student with this email is already registered")


class StaleVersion(DomainError):
    """The student is not at a version the caller agreed to change (optimistic concurrency)."""

    def __init__(self, student_id: UUID, *, expected: int | None = None, actual: int | None = None) -> None:
        self.student_id = student_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"student {student_id} has changed since the version named in the precondition")
