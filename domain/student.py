"""The Student entity and the value rules every student obeys."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, TypeVar
from uuid import UUID

from domain.errors import FieldError, InvalidStudentData
from domain.events import DomainEvent, StudentRegistered, StudentRemoved, StudentRevised
from domain.text import (
    has_letter,
    looks_blank,
    plainly_a_name,
    starts_with_mark,
    trim,
    trimmed_nfc,
    unprintable_reason,
)

NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
CGPA_MIN = Decimal("0.00")
CGPA_MAX = Decimal("10.00")
_CENT = Decimal("0.01")

# ASCII only, checked before upper-casing: "ß".upper() is "SS", and a dotless i upper-cases to "I".
_DEPARTMENT = re.compile(r"[A-Za-z0-9]{2,10}")
# A plain decimal as text: no exponent, no underscores (Python's Decimal takes "1_0" as 10).
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Deliberately plain: one @, a dot-atom local part, and a dotted host name whose last label is
# alphabetic. Deliverability is not the domain's business; rejecting obvious garbage is.
_EMAIL = re.compile(
    r"(?P<local>[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})"
)

# What a spreadsheet takes a cell for a formula by, when it opens a CSV file: a name or an email
# that began so would run as one where an export is opened (CSV injection), so neither may. A tab
# or a carriage return, which some take so too, is refused already (a control character, or no
# email's). A name or an email stored before this rule is neutralised by the CSV export instead.
FORMULA_STARTS = ("=", "+", "-", "@")
_FORMULA = "must not start with =, +, - or @, which a spreadsheet would run as a formula"

CgpaInput = Decimal | int | str


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def check_printable(text: str) -> str:
    """``text`` unchanged, or ValueError if it holds characters no name holds (see domain/text.py)."""
    reason = unprintable_reason(text)
    if reason is not None:
        raise ValueError(reason)
    return text


def normalise_name(value: object) -> str:
    """The name in NFC, trimmed; printable, not blank, with a letter (the rules of domain/text.py)."""
    # A file's line can be 64 KiB of combining marks, which NFC takes the square of to order.
    name = trimmed_nfc(_text(value), NAME_MAX_LENGTH)
    if name is None:
        raise ValueError(f"must be at most {NAME_MAX_LENGTH} characters")
    if name.startswith(FORMULA_STARTS):
        raise ValueError(_FORMULA)
    if plainly_a_name(name):
        return name
    check_printable(name)
    if looks_blank(name):
        raise ValueError("must not be blank")
    if not has_letter(name):
        raise ValueError("must contain a letter")
    if starts_with_mark(name):
        raise ValueError("must not start with a combining mark")
    return name


def normalise_email(value: object) -> str:
    email = trim(_text(value)).lower()
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValueError(f"must be at most {EMAIL_MAX_LENGTH} characters")
    match = _EMAIL.fullmatch(email)
    if match is None or len(match["local"]) > 64:
        raise ValueError("must be a valid email address")
    if email.startswith(FORMULA_STARTS):
        raise ValueError(_FORMULA)
    return email


def normalise_department(value: object) -> str:
    text = _text(value)
    return _remembered_department(text) if len(text) <= _REMEMBERED_LENGTH else _department(text)


# A school has a few dozen departments and a few hundred CGPAs, and a bulk import checks the same
# few again on every row: each text is judged once. Only short text is remembered (it hashes and
# compares as itself, where Decimal("1.0") would be the same key as 1 and True), and only what
# passed (an exception is never cached); each cache holds at most its maxsize texts, dropping
# the least recently used, so that neither what a client sends nor its mistakes fill the memory.
_REMEMBERED_LENGTH = 16


def _department(text: str) -> str:
    department = trim(text)
    if not _DEPARTMENT.fullmatch(department):
        raise ValueError("must be 2 to 10 letters A-Z or digits")
    return department.upper()


_remembered_department = lru_cache(maxsize=1024)(_department)


def normalise_cgpa(value: object) -> Decimal:
    """The exact CGPA ``value`` names, with two decimals; more precision is refused, not rounded.

    Trailing zeros are not precision: "8.750" is 8.75. The range is checked before the decimals,
    so that a huge value never reaches ``quantize`` (which fails past its precision).
    """
    if isinstance(value, str):
        return _remembered_cgpa(value) if len(value) <= _REMEMBERED_LENGTH else _cgpa_from_text(value)
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise ValueError("must be a decimal number")
    return _cgpa(value)


def _cgpa_from_text(text: str) -> Decimal:
    value = trim(text)
    if not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError("must be a decimal number")
    return _cgpa(value)


_remembered_cgpa = lru_cache(maxsize=4096)(_cgpa_from_text)


def _cgpa(value: Decimal | int | str) -> Decimal:
    try:
        cgpa = Decimal(value)
    except InvalidOperation:
        raise ValueError("must be a decimal number") from None
    if not cgpa.is_finite():
        raise ValueError("must be a finite number")
    if not CGPA_MIN <= cgpa <= CGPA_MAX:
        raise ValueError("must be between 0.00 and 10.00")
    cents = cgpa.quantize(_CENT)
    if cents != cgpa:
        raise ValueError("must have at most two decimal places")
    # -0 is 0: a client that sent -0.0 reads back 0.0, as every later reader does.
    return abs(cents) if cents.is_zero() else cents


def _all_at_once(
    name: object, email: object, department: object, cgpa: object
) -> tuple[str, str, str, Decimal]:
    """Every field's rules, in field order, the first that fails raising its ValueError: for input
    that is most likely right (StudentChanges.checked reports every failure)."""
    return (
        normalise_name(name),
        normalise_email(email),
        normalise_department(department),
        normalise_cgpa(cgpa),
    )


@dataclass(frozen=True, slots=True)
class StudentChanges:
    """Checked values for some or all of a student's fields; ``None`` leaves a field as it is."""

    name: str | None = None
    email: str | None = None
    department: str | None = None
    cgpa: Decimal | None = None

    @classmethod
    def checked(
        cls,
        *,
        name: str | None = None,
        email: str | None = None,
        department: str | None = None,
        cgpa: CgpaInput | None = None,
        required: bool = False,
    ) -> StudentChanges:
        """Run every rule and report all failures together, so a client can fix its input in one go.

        ``required``: every field must be given (a registration, a replacement).
        """
        if name is not None and email is not None and department is not None and cgpa is not None:
            # Every field given, as in a registration or a bulk import's row: most such input is
            # right, and is checked in one go. Wrong input is checked again, rule by rule, below.
            try:
                return cls(*_all_at_once(name, email, department, cgpa))
            except ValueError:
                pass
        return cls._rule_by_rule(name=name, email=email, department=department, cgpa=cgpa, required=required)

    @classmethod
    def _rule_by_rule(
        cls,
        *,
        name: str | None,
        email: str | None,
        department: str | None,
        cgpa: CgpaInput | None,
        required: bool,
    ) -> StudentChanges:
        errors: list[FieldError] = []

        def run(field: str, rule: Callable[[Any], T], value: object) -> T | None:
            if value is None:
                if required:
                    errors.append(FieldError(field, "is required"))
                return None
            try:
                return rule(value)
            except ValueError as exc:
                errors.append(FieldError(field, str(exc)))
                return None

        checked = cls(
            name=run("name", normalise_name, name),
            email=run("email", normalise_email, email),
            department=run("department", normalise_department, department),
            cgpa=run("cgpa", normalise_cgpa, cgpa),
        )
        if errors:
            raise InvalidStudentData(errors)
        return checked

    def given(self) -> dict[str, str | Decimal]:
        return {
            field: value
            for field in ("name", "email", "department", "cgpa")
            if (value := getattr(self, field)) is not None
        }


T = TypeVar("T")


@dataclass(slots=True)
class Student:
    """A registered student. Build one with :meth:`register`; change it with :meth:`revise` or
    :meth:`apply`; :meth:`remove` before removing it. Each records what happened in ``events``."""

    id: UUID
    name: str
    email: str
    department: str
    cgpa: Decimal
    created_at: datetime
    updated_at: datetime
    version: int = 1
    # What happened to this student since it was loaded or made: the unit of work hands these
    # to the event handlers once it has committed them.
    # Not a constructor argument: a copy (dataclasses.replace) or a loaded row starts with none.
    events: list[DomainEvent] = field(default_factory=list, init=False, compare=False, repr=False)

    @classmethod
    def register(
        cls,
        *,
        id: UUID,
        name: str,
        email: str,
        department: str,
        cgpa: CgpaInput,
        now: datetime,
    ) -> Student:
        try:
            # Most registrations are right, and are checked in one go, with no StudentChanges
            # made on the way (a bulk import makes a million); a wrong one is checked again rule
            # by rule, which reports every field that is wrong.
            checked_name, checked_email, checked_department, checked_cgpa = _all_at_once(
                name, email, department, cgpa
            )
        except ValueError:
            checked = StudentChanges._rule_by_rule(
                name=name, email=email, department=department, cgpa=cgpa, required=True
            )
            checked_name, checked_email = _present(checked.name), _present(checked.email)
            checked_department, checked_cgpa = _present(checked.department), _present(checked.cgpa)
        # Positional, in the order of the fields, as a row loaded from the store is made.
        student = cls(id, checked_name, checked_email, checked_department, checked_cgpa, now, now, 1)
        student.events.append(StudentRegistered(id))
        return student

    def revise(
        self,
        *,
        now: datetime,
        name: str | None = None,
        email: str | None = None,
        department: str | None = None,
        cgpa: CgpaInput | None = None,
    ) -> bool:
        """Apply the given changes all together or not at all; ``None`` leaves a field as it is.

        Returns whether anything changed (see :meth:`apply`).
        """
        changes = StudentChanges.checked(name=name, email=email, department=department, cgpa=cgpa)
        return self.apply(changes, now=now)

    def apply(self, changes: StudentChanges, *, now: datetime) -> bool:
        """Apply checked changes. A change bumps ``version`` by one; a revision that changes nothing
        leaves the student, its version and ``updated_at`` untouched. Returns whether it changed."""
        changed = False
        for name, value in changes.given().items():
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed = True
        if changed:
            self.version += 1
            self.updated_at = now
            self.events.append(StudentRevised(self.id, self.version))
        return changed

    def remove(self) -> None:
        """Record that this student is removed; the repository deletes it."""
        self.events.append(StudentRemoved(self.id))


def _present(value: T | None) -> T:
    # StudentChanges.checked(required=True) has already refused every missing field.
    if value is None:
        raise AssertionError("a required value was not checked")
    return value
