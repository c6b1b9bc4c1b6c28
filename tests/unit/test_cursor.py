"""Cursor encoding: round trips, and refuses what it did not issue."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from application.cursor import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor
from application.errors import InvalidQuery
from application.listing import SortField, SortKey, StudentQuery

ORDER = StudentQuery(sort=(SortKey(SortField.CGPA, True), SortKey(SortField.CREATED_AT))).order
POSITION = (
    Decimal("8.50"),
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    UUID("01a20376-32e4-73a0-b31a-8898a30fe5b8"),
)


def test_round_trip() -> None:
    assert decode_cursor(encode_cursor(POSITION, ORDER), ORDER) == POSITION


def test_cursor_is_url_safe() -> None:
    cursor = encode_cursor(("a/b+c?" * 10, UUID(int=1)), StudentQuery(sort=(SortKey(SortField.NAME),)).order)
    assert all(c.isalnum() or c in "-_" for c in cursor)


def _forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !!",
        "e30",  # {}
        _forge([1, 2]),
        _forge({"v": 1, "o": "-cgpa,created_at,-id", "k": ["8.50"]}),
        _forge({"v": 1, "o": "-cgpa,created_at,-id", "k": ["x", "2026-01-01T00:00:00+00:00", "y"]}),
        _forge(
            {
                "v": 1,
                "o": "-cgpa,created_at,-id",
                "k": ["1", "2026-01-01T00:00:00", str(UUID(int=1))],
            }
        ),
        _forge(
            {
                "v": 1,
                "o": "-cgpa,created_at,-id",
                "k": ["Infinity", "2026-01-01T00:00:00+00:00", str(UUID(int=1))],
            }
        ),
        _forge({"v": 2, "o": "-cgpa,created_at,-id", "k": []}),
        "A" * 3000,
    ],
)
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidQuery) as excinfo:
        decode_cursor(cursor, ORDER)
    assert excinfo.value.parameter == "cursor"


def test_cursor_of_another_sort_is_refused() -> None:
    other = StudentQuery(sort=(SortKey(SortField.NAME),)).order
    cursor = encode_cursor(("Ada", UUID(int=1)), other)
    with pytest.raises(InvalidQuery, match="different sort order"):
        decode_cursor(cursor, ORDER)


NAME_ORDER = StudentQuery(sort=(SortKey(SortField.NAME),)).order
EMAIL_ORDER = StudentQuery(sort=(SortKey(SortField.EMAIL),)).order
CREATED_ORDER = StudentQuery(sort=(SortKey(SortField.CREATED_AT),)).order


def _position(order: tuple[SortKey, ...], *values: str) -> str:
    signature = ",".join(str(key) for key in order)
    return _forge({"v": 1, "o": signature, "k": [*values, str(UUID(int=1))]})


# Found by review: each of these reached the database and failed there (500), or on MariaDB kept a
# worker busy for seconds to minutes converting an enormous number.
@pytest.mark.parametrize(
    ("order", "value"),
    [
        (ORDER[:1] + ORDER[2:], "1E+299999999"),
        (ORDER[:1] + ORDER[2:], "1000"),
        (ORDER[:1] + ORDER[2:], "123456789012345678901234567890"),
        (ORDER[:1] + ORDER[2:], "8.755"),
        (NAME_ORDER, "\ud800"),
        (NAME_ORDER, "Ada\x00"),
        (NAME_ORDER, "x" * 101),
        (NAME_ORDER, "  padded  "),
        (EMAIL_ORDER, "Not An Email"),
        (EMAIL_ORDER, "UPPER@example.org"),
        (CREATED_ORDER, "0001-01-01T00:00:00+14:00"),
        (CREATED_ORDER, "9999-12-31T23:59:59-14:00"),
        (CREATED_ORDER, "2026-01-01T00:00:00"),
    ],
)
def test_values_no_stored_student_could_have_are_refused(order: tuple[SortKey, ...], value: str) -> None:
    with pytest.raises(InvalidQuery) as excinfo:
        decode_cursor(_position(order, value), order)
    assert excinfo.value.message == "is not a cursor this listing issued"


def test_timestamps_come_back_in_utc() -> None:
    position = decode_cursor(_position(CREATED_ORDER, "2026-01-01T02:00:00+02:00"), CREATED_ORDER)
    assert position[0] == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_cursor_nested_past_the_decoders_limit_is_refused() -> None:
    # Found by review: json.loads raised RecursionError, and the request was answered 500.
    nested = base64.urlsafe_b64encode(b"[" * 1500).rstrip(b"=").decode()
    with pytest.raises(InvalidQuery):
        decode_cursor(nested, ORDER)


def test_the_longest_position_makes_a_cursor_well_within_the_limit() -> None:
    # Found by an attack: 100 astral characters of name and a 254-character email, sorted by
    # every field, made a cursor of 2,127 characters (JSON escaped each character as 12), which
    # the limit of 2,048 then refused: paging stopped for every caller of that sort.
    order = StudentQuery(
        sort=tuple(
            SortKey(field, True)
            for field in (SortField.NAME, SortField.EMAIL, SortField.CREATED_AT, SortField.CGPA)
        )
    ).order
    position = (
        "\U0001d49c" * 100,
        "a" * 64 + "@" + ".".join(["b" * 63] * 2) + "." + "c" * 61,
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        Decimal("10.00"),
        UUID("01a20376-32e4-73a0-b31a-8898a30fe5b8"),
    )
    assert len(position[1]) == 254
    cursor = encode_cursor(position, order)
    assert len(cursor) <= MAX_CURSOR_LENGTH  # 1,062: room to spare
    assert decode_cursor(cursor, order) == position


def test_a_cursor_of_escaped_text_still_reads() -> None:
    """Cursors issued before the UTF-8 encoding (JSON \\u escapes) still page on."""
    order = StudentQuery(sort=(SortKey(SortField.NAME),)).order
    payload = json.dumps({"v": 1, "o": "name,id", "k": ["\u00e9", str(UUID(int=1))]})
    legacy = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    assert decode_cursor(legacy, order) == ("\u00e9", UUID(int=1))
