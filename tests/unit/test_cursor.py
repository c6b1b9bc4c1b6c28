"""Cursor encoding: round trips, and refuses what it did not issue."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from application.cursor import decode_cursor, encode_cursor
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
