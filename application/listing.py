"""The small vocabulary a repository understands for listing students: filters, sort, keyset position."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class SortField(StrEnum):
    ID = "id"
    NAME = "name"
    EMAIL = "email"
    CGPA = "cgpa"
    CREATED_AT = "created_at"


# What a client may name in ``sort``; ``id`` is always appended as the tie-breaker.
SORTABLE = frozenset({SortField.NAME, SortField.EMAIL, SortField.CGPA, SortField.CREATED_AT})

SortValue = str | Decimal | datetime | UUID


@dataclass(frozen=True, slots=True)
class SortKey:
    field: SortField
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else str(self.field)


@dataclass(frozen=True, slots=True)
class StudentFilter:
    department: str | None = None
    cgpa_min: Decimal | None = None
    cgpa_max: Decimal | None = None
    # Case-insensitive substring of the name; matched literally (no wildcards).
    name_contains: str | None = None


@dataclass(frozen=True, slots=True)
class StudentQuery:
    """One page request: ``after`` is the keyset position (one value per key of :attr:`order`)."""

    filter: StudentFilter = field(default_factory=StudentFilter)
    sort: tuple[SortKey, ...] = ()
    limit: int = DEFAULT_PAGE_SIZE
    after: tuple[SortValue, ...] | None = None

    @property
    def order(self) -> tuple[SortKey, ...]:
        """The full ordering: the requested keys, then ``id`` so that no two rows ever tie.

        The tie-breaker follows the last key's direction, so a single-key sort in either
        direction walks one composite index (key, id) forwards or backwards.
        """
        descending = self.sort[-1].descending if self.sort else False
        return (*self.sort, SortKey(SortField.ID, descending))
