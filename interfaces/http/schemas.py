"""Request and response bodies. Value rules live in the domain; these bound sizes and types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from application.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from domain.student import normalise_cgpa, normalise_department, normalise_email, normalise_name

# Each field runs the domain's own rule as soon as its type is right, so that one answer names
# every bad field, whether its type or its value is wrong. The use-case runs the same rules again
# (it has callers other than HTTP); they are cheap, and they are the same functions.
Name = Annotated[
    str,
    Field(
        max_length=200,
        description="1-100 characters once trimmed, stored in Unicode NFC; printable, with a letter",
        examples=["Ada Lovelace"],
    ),
    AfterValidator(normalise_name),
]
Email = Annotated[
    str,
    Field(
        max_length=320,
        description="a valid address; stored in lower case; unique",
        examples=["ada@example.org"],
    ),
    AfterValidator(normalise_email),
]
Department = Annotated[
    str,
    Field(max_length=20, description="2-10 letters or digits; stored in upper case", examples=["CS"]),
    AfterValidator(normalise_department),
]


def _plain_decimal(value: object) -> object:
    # Decimal("1_0") is 10 and Decimal("1e1") is 10 too; as text, only plain decimals are CGPAs.
    # (JSON numbers arrive as Decimal, exactly: see interfaces/http/exact_json.py.)
    if isinstance(value, str):
        normalise_cgpa(value)  # raises ValueError, which names the field
    return value


Cgpa = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(
        description="0.00 to 10.00 with at most two decimals (more precision is refused)",
        examples=[8.75],
    ),
    AfterValidator(normalise_cgpa),
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudentCreate(_Input):
    name: Name
    email: Email
    department: Department
    cgpa: Cgpa


class StudentReplace(StudentCreate):
    """Every writable field; PUT replaces them all."""


def _without_null(schema: dict[str, Any]) -> None:
    """Document each optional field as its own type: omitting it is the only way to leave it alone."""
    for field in schema.get("properties", {}).values():
        options = [option for option in field.pop("anyOf", []) if option != {"type": "null"}]
        if len(options) == 1:
            field.update(options[0])
        elif options:
            field["anyOf"] = options
        field.pop("default", None)


class StudentPatch(_Input):
    """RFC 7396 merge patch: name only the fields to change. ``null`` is refused: none is optional."""

    # Plain "X | None" (not a union with a hidden None, which named each error twice, as
    # "cgpa.decimal" and "cgpa.none"); the validator below refuses an explicit null, and the
    # schema hook keeps null out of the documentation.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_null)

    name: Name | None = None
    email: Email | None = None
    department: Department | None = None
    cgpa: Cgpa | None = None

    @field_validator("name", "email", "department", "cgpa", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        # Runs only for fields present in the body. RFC 7396 reads null as "remove the member",
        # and no member of a student can be removed.
        if value is None:
            raise ValueError("cannot be null: every field is required; omit it to keep it")
        return value


class StudentListQuery(_Input):
    """The query of ``GET /students``. An unknown parameter is refused: a typo must not widen a page."""

    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="page size")
    cursor: str | None = Field(
        None, min_length=1, max_length=2048, description="`next_cursor` of the previous page"
    )
    department: str | None = Field(None, max_length=20, description="exact match")
    cgpa_min: Annotated[Decimal, BeforeValidator(_plain_decimal)] | None = Field(
        None, description="inclusive lower bound, written like a CGPA (8.5)"
    )
    cgpa_max: Annotated[Decimal, BeforeValidator(_plain_decimal)] | None = Field(
        None, description="inclusive upper bound, written like a CGPA (9.25)"
    )
    q: str | None = Field(None, max_length=100, description="case-insensitive substring of the name")
    sort: str | None = Field(
        None,
        max_length=100,
        description="comma list of name, email, cgpa, created_at; prefix - for descending. "
        "Ties are always broken by id.",
        examples=["-cgpa,name"],
    )


class StudentRead(BaseModel):
    id: UUID = Field(description="time-ordered UUIDv7, assigned by the service")
    name: str
    email: str
    department: str
    cgpa: float = Field(description="0.00 to 10.00, two decimals", examples=[8.75])
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="starts at 1 and grows by one with every change")


class StudentPageRead(BaseModel):
    items: list[StudentRead]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class FieldProblem(BaseModel):
    location: str = Field(description="body, query, path or header")
    field: str
    message: str
    line: int | None = Field(None, description="the line of an imported file the error is on")


class Problem(BaseModel):
    """RFC 9457 problem details, served as ``application/problem+json``."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None
    request_id: str | None = Field(None, description="the request's X-Request-ID; quote it when reporting")


class ImportResult(BaseModel):
    """What an import did (or, as a dry run, would do)."""

    imported: int = Field(description="rows imported: created + updated + unchanged")
    created: int
    updated: int = Field(description="students whose row changed them (with on_conflict=update)")
    unchanged: int = Field(description="students whose row held the values they had (on_conflict=update)")
    rows: int = Field(description="rows the file holds")
    dry_run: bool
