"""Request and response bodies. Value rules live in the domain; these bound sizes and types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from application.cursor import MAX_CURSOR_LENGTH, encode_cursor
from application.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, StudentQuery
from domain.student import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    normalise_cgpa,
    normalise_department,
    normalise_email,
    normalise_name,
)

# Each field runs the domain's own rule as soon as its type is right, so that one answer names
# every bad field, whether its type or its value is wrong. The use-case runs the same rules again
# (it has callers other than HTTP); they are cheap, and they are the same functions.
Name = Annotated[
    str,
    Field(
        max_length=200,
        description="1-100 characters once trimmed, stored in Unicode NFC; printable, with a letter; "
        "not starting with =, +, - or @ (a spreadsheet formula)",
        examples=["Ada Lovelace"],
    ),
    AfterValidator(normalise_name),
]
Email = Annotated[
    str,
    Field(
        max_length=EMAIL_MAX_LENGTH,
        json_schema_extra={"format": "email"},
        description="a valid address, not starting with =, +, - or @; stored in lower case; unique",
        examples=["ada@example.org"],
    ),
    AfterValidator(normalise_email),
]
# The domain's trim takes Unicode's space separators (Zs) off the ends, and nothing else: not the
# tabs and line breaks a pattern's \s would admit.
_SPACES = "[ \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"
# Documented, not enforced here: the domain's rule refuses what is out, in its own words.
DEPARTMENT_PATTERN = f"^{_SPACES}*[A-Za-z0-9]{{2,10}}{_SPACES}*$"
Department = Annotated[
    str,
    Field(
        max_length=20,
        description="2-10 letters or digits; stored in upper case",
        examples=["CS"],
        json_schema_extra={"pattern": DEPARTMENT_PATTERN},
    ),
    AfterValidator(normalise_department),
]


# No multipleOf 0.01: validators that divide in binary floating point refuse 0.29 by it.
_CGPA_RANGE: dict[str, Any] = {"minimum": 0, "maximum": 10}
# A 32-bit column holds a version: what a client may keep it in.
_INT32: dict[str, Any] = {"format": "int32"}
# Counts of rows in an imported file: it is at most IMPORT_MAX_BYTES long, a row at least a byte.
_ROW_COUNT: dict[str, Any] = {"format": "int64", "maximum": 64 * 1024**3}
# A CGPA written as text: "10.00" with room for spaces and trailing zeros, no more.
CGPA_TEXT_MAX_LENGTH = 40
# Unpadded base64url (application/cursor.py); documented, while the cursor's own check words the refusal.
Cursor = Annotated[str, Field(json_schema_extra={"pattern": "^[A-Za-z0-9_-]+$"})]


def _plain_decimal(value: object) -> object:
    # Decimal("1_0") is 10 and Decimal("1e1") is 10 too; as text, only plain decimals are CGPAs.
    # (JSON numbers arrive as Decimal, exactly: see interfaces/http/exact_json.py.)
    if isinstance(value, str):
        if len(value) > CGPA_TEXT_MAX_LENGTH:
            raise ValueError(f"must be a decimal number of at most {CGPA_TEXT_MAX_LENGTH} characters")
        normalise_cgpa(value)  # raises ValueError, which names the field
    return value


def _bounded_text_option(schema: dict[str, Any]) -> None:
    """A decimal's schema is a number or a string: bound the string as _plain_decimal does."""
    for option in schema.get("anyOf", []):
        if option.get("type") == "string":
            option["maxLength"] = CGPA_TEXT_MAX_LENGTH
            option["pattern"] = f"^{_SPACES}*[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+){_SPACES}*$"


def _cgpa_schema(schema: dict[str, Any]) -> None:
    schema.update(_CGPA_RANGE)
    _bounded_text_option(schema)


Cgpa = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal),
    Field(
        description="0.00 to 10.00 with at most two decimals (more precision is refused)",
        examples=[8.75],
        # Documented, not enforced here: the domain's rule refuses what is out, in its own words.
        json_schema_extra=_cgpa_schema,
    ),
    AfterValidator(normalise_cgpa),
]
CgpaBound = Annotated[Decimal, BeforeValidator(_plain_decimal), Field(json_schema_extra=_bounded_text_option)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


_NEW_STUDENT: dict[str, Any] = {
    "name": "Ada Lovelace",
    "email": "ada@example.org",
    "department": "CS",
    "cgpa": 8.75,
}
# As the server renders one (orjson: RFC 3339 with the offset, microseconds when there are any).
_STUDENT: dict[str, Any] = {
    "id": "01890a5d-ac96-774b-bcce-b302099a8057",
    **_NEW_STUDENT,
    "created_at": "2026-09-01T09:30:00.123456+00:00",
    "updated_at": "2026-09-01T09:30:00.123456+00:00",
    "version": 1,
}


class StudentCreate(_Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_NEW_STUDENT]})

    name: Name
    email: Email
    department: Department
    cgpa: Cgpa


class StudentReplace(StudentCreate):
    """Every writable field; PUT replaces them all."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{**_NEW_STUDENT, "cgpa": 9.1}]})


def _without_null(schema: dict[str, Any]) -> None:
    """Document each optional field as its own type: omitting it is the only way to leave it alone."""
    for field in schema.get("properties", {}).values():
        options = [option for option in field.pop("anyOf", []) if option != {"type": "null"}]
        if len(options) == 1:
            field.update(options[0])
        elif options:
            field["anyOf"] = options
        field.pop("default", None)


def _patch_schema(schema: dict[str, Any]) -> None:
    _without_null(schema)
    schema["examples"] = [{"cgpa": 9.25}]


class StudentPatch(_Input):
    """RFC 7396 merge patch: name only the fields to change. ``null`` is refused: none is optional."""

    # Plain "X | None" (not a union with a hidden None, which named each error twice, as
    # "cgpa.decimal" and "cgpa.none"); the validator below refuses an explicit null, and the
    # schema hook keeps null out of the documentation.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)

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


def _short_number(value: object) -> object:
    # "000...0001" is 1 to int(), and its thousands of zeros would come back in the Link header.
    if isinstance(value, str) and len(value.strip()) > 3:
        raise ValueError(f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return value


class StudentListQuery(_Input):
    """The query of ``GET /students``. An unknown parameter is refused: a typo must not widen a page."""

    limit: Annotated[int, BeforeValidator(_short_number)] = Field(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="page size", json_schema_extra=_INT32
    )
    cursor: Cursor | None = Field(
        None,
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        description="`next_cursor` of the previous page, with the same `sort` (another sort's is 422)",
    )
    department: str | None = Field(
        None, max_length=20, description="exact match", json_schema_extra={"pattern": DEPARTMENT_PATTERN}
    )
    cgpa_min: CgpaBound | None = Field(
        None, description="inclusive lower bound, written like a CGPA (8.5); not above cgpa_max (422)"
    )
    cgpa_max: CgpaBound | None = Field(None, description="inclusive upper bound, written like a CGPA (9.25)")
    q: str | None = Field(None, max_length=100, description="case-insensitive substring of the name")
    sort: str | None = Field(
        None,
        max_length=100,
        description="comma list of name, email, cgpa, created_at, each at most once; prefix - for "
        "descending. Ties are always broken by id.",
        examples=["-cgpa,name"],
    )


class StudentRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_STUDENT]})

    id: UUID = Field(
        description="time-ordered UUIDv7, assigned by the service", json_schema_extra={"maxLength": 36}
    )
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["Ada Lovelace"])
    email: str = Field(
        max_length=EMAIL_MAX_LENGTH, examples=["ada@example.org"], json_schema_extra={"format": "email"}
    )
    department: str = Field(pattern=r"^[A-Z0-9]{2,10}$", max_length=10, examples=["CS"])
    cgpa: float = Field(
        description="0.00 to 10.00, two decimals", examples=[8.75], json_schema_extra=_CGPA_RANGE
    )
    # RFC 3339 in UTC with microseconds: 27 characters; 32 with a numeric offset.
    created_at: datetime = Field(json_schema_extra={"maxLength": 32})
    updated_at: datetime = Field(json_schema_extra={"maxLength": 32})
    version: int = Field(
        ge=1,
        le=2**31 - 1,
        description="starts at 1 and grows by one with every change",
        json_schema_extra=_INT32,
    )


class StudentPageRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            # A real cursor: the one after the example student, in the default order.
            "examples": [
                {
                    "items": [_STUDENT],
                    "next_cursor": encode_cursor((UUID(_STUDENT["id"]),), StudentQuery().order),
                }
            ]
        }
    )

    items: list[StudentRead] = Field(max_length=MAX_PAGE_SIZE)
    next_cursor: Cursor | None = Field(
        max_length=MAX_CURSOR_LENGTH, description="pass as `cursor` for the next page; null on the last"
    )


class FieldProblem(BaseModel):
    model_config = ConfigDict(json_schema_extra=_without_null)

    location: str = Field(max_length=20, description="body, query, path or header")
    field: str = Field(max_length=300)
    message: str = Field(max_length=500)
    line: int | None = Field(
        None, ge=1, description="the line of an imported file the error is on", json_schema_extra=_ROW_COUNT
    )


# The most errors a problem lists: IMPORT_MAX_ERRORS at its largest (a body's fields: 20).
MAX_PROBLEM_ERRORS = 10_000


class Problem(BaseModel):
    """RFC 9457 problem details, served as ``application/problem+json``. ``errors`` and
    ``request_id`` are left out when there is nothing to say, never sent as null."""

    model_config = ConfigDict(json_schema_extra=_without_null)

    type: str = Field(
        max_length=200, examples=["/problems/stale-version"], json_schema_extra={"format": "uri-reference"}
    )
    title: str = Field(max_length=200, examples=["Precondition failed"])
    status: int = Field(ge=100, le=599, json_schema_extra=_INT32, examples=[412])
    detail: str = Field(max_length=10_000)
    instance: str = Field(
        max_length=8192,
        examples=["/students/01890a5d-ac96-774b-bcce-b302099a8057"],
        json_schema_extra={"format": "uri-reference"},
    )
    errors: list[FieldProblem] | None = Field(None, max_length=MAX_PROBLEM_ERRORS)
    request_id: str | None = Field(
        None,
        max_length=128,
        description="the request's X-Request-ID; quote it when reporting",
        json_schema_extra={"pattern": "^[A-Za-z0-9._:+/=-]{1,128}$"},
    )


class ImportResult(BaseModel):
    """What an import did (or, as a dry run, would do)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "imported": 10000,
                    "created": 9990,
                    "updated": 6,
                    "unchanged": 4,
                    "rows": 10000,
                    "dry_run": False,
                }
            ]
        }
    )

    imported: int = Field(
        ge=0, description="rows imported: created + updated + unchanged", json_schema_extra=_ROW_COUNT
    )
    created: int = Field(ge=0, json_schema_extra=_ROW_COUNT)
    updated: int = Field(
        ge=0,
        description="students whose row changed them (with on_conflict=update)",
        json_schema_extra=_ROW_COUNT,
    )
    unchanged: int = Field(
        ge=0,
        description="students whose row held the values they had (on_conflict=update)",
        json_schema_extra=_ROW_COUNT,
    )
    rows: int = Field(ge=0, description="rows the file holds", json_schema_extra=_ROW_COUNT)
    dry_run: bool
