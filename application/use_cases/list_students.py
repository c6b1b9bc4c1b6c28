"""ListStudents: one page of students, filtered and sorted, with a cursor to the next page."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from application.cursor import decode_cursor, encode_cursor, position_of
from application.errors import InvalidQuery
from application.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SORTABLE,
    SortField,
    SortKey,
    StudentFilter,
    StudentQuery,
)
from application.ports import UnitOfWork
from domain.student import (
    NAME_MAX_LENGTH,
    Student,
    check_printable,
    normalise_cgpa,
    normalise_department,
)
from domain.text import trimmed_nfc


@dataclass(frozen=True, slots=True)
class ListStudentsRequest:
    """A page request as a client states it; :class:`ListStudents` validates every part."""

    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    department: str | None = None
    cgpa_min: Decimal | str | None = None
    cgpa_max: Decimal | str | None = None
    q: str | None = None
    sort: str | None = None


@dataclass(frozen=True, slots=True)
class StudentPage:
    items: list[Student]
    next_cursor: str | None


def parse_sort(text: str | None) -> tuple[SortKey, ...]:
    """``"name,-cgpa"`` -> keys; only whitelisted fields, each at most once."""
    if text is None or not text.strip():
        return ()
    keys: list[SortKey] = []
    for raw in text.split(","):
        token = raw.strip()
        descending = token.startswith("-")
        name = token[1:] if descending else token
        try:
            field = SortField(name)
        except ValueError:
            field = None
        if field is None or field not in SORTABLE:
            allowed = ", ".join(sorted(f.value for f in SORTABLE))
            raise InvalidQuery("sort", f"unknown sort field {name!r}; use {allowed}")
        if any(key.field is field for key in keys):
            raise InvalidQuery("sort", f"sort field {name!r} is named twice")
        keys.append(SortKey(field, descending))
    return tuple(keys)


def _cgpa_bound(parameter: str, value: Decimal | str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return normalise_cgpa(value)
    except ValueError as exc:
        raise InvalidQuery(parameter, str(exc)) from None


def build_filter(request: ListStudentsRequest) -> StudentFilter:
    department = None
    if request.department is not None:
        try:
            department = normalise_department(request.department)
        except ValueError as exc:
            raise InvalidQuery("department", str(exc)) from None
    cgpa_min = _cgpa_bound("cgpa_min", request.cgpa_min)
    cgpa_max = _cgpa_bound("cgpa_max", request.cgpa_max)
    if cgpa_min is not None and cgpa_max is not None and cgpa_min > cgpa_max:
        raise InvalidQuery("cgpa_min", "must not be greater than cgpa_max")
    q = trimmed_nfc(request.q, NAME_MAX_LENGTH) if request.q is not None else None
    if request.q is not None and q is None:
        raise InvalidQuery("q", f"must be at most {NAME_MAX_LENGTH} characters")
    if q is not None:
        # No name holds one, and databases disagree on them: PostgreSQL refuses a NUL, SQLite
        # ends the pattern there and would match every name.
        try:
            check_printable(q)
        except ValueError as exc:
            raise InvalidQuery("q", str(exc)) from None
    return StudentFilter(department=department, cgpa_min=cgpa_min, cgpa_max=cgpa_max, name_contains=q or None)


class ListStudents:
    """One page of students in a stable order, with a cursor to the next page."""

    raises: ClassVar[tuple[type[Exception], ...]] = (InvalidQuery,)

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def execute(self, request: ListStudentsRequest) -> StudentPage:
        if not 1 <= request.limit <= MAX_PAGE_SIZE:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
        query = StudentQuery(filter=build_filter(request), sort=parse_sort(request.sort))
        after = decode_cursor(request.cursor, query.order) if request.cursor else None
        # Ask for one more than the page holds: its presence alone says there is a next page.
        query = StudentQuery(filter=query.filter, sort=query.sort, limit=request.limit + 1, after=after)
        async with self._uow as uow:
            rows = await uow.students.find_page(query)
        items = rows[: request.limit]
        next_cursor = None
        if len(rows) > request.limit:
            next_cursor = encode_cursor(position_of(items[-1], query.order), query.order)
        return StudentPage(items=items, next_cursor=next_cursor)
