"""Opaque page cursors: the keyset position of the last student on a page, bound to its sort order.

A cursor is base64url-encoded JSON. It is not secret (it only holds values the client has already
seen on the page) but it is validated on the way in: a cursor made for another sort order, or one
holding a value no stored student could have (a CGPA of 1E+999999999, a year-1 timestamp, a name
with a NUL), is refused rather than sent to the database, where it could fail or run long.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import InvalidOperation
from uuid import UUID

from application.errors import InvalidQuery
from application.listing import SortField, SortKey, SortValue
from domain.student import Student, normalise_cgpa, normalise_email, normalise_name

_VERSION = 1
# Timestamps are made by the service's clock; anything outside this is not one of them.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _as_stored(rule: Callable[[object], str]) -> Callable[[str], str]:
    """A text value is valid only if it is already what ``rule`` would have stored."""

    def parse(value: str) -> str:
        if rule(value) != value:
            raise ValueError("not a stored value")
        return value

    return parse


def _timestamp(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or not _EARLIEST <= moment <= _LATEST:
        raise ValueError("not a timestamp this service makes")
    return moment.astimezone(UTC)


_PARSE: dict[SortField, Callable[[str], SortValue]] = {
    SortField.ID: UUID,
    SortField.NAME: _as_stored(normalise_name),
    SortField.EMAIL: _as_stored(normalise_email),
    SortField.CGPA: normalise_cgpa,
    SortField.CREATED_AT: _timestamp,
}


def _signature(order: tuple[SortKey, ...]) -> str:
    return ",".join(str(key) for key in order)


def position_of(student: Student, order: tuple[SortKey, ...]) -> tuple[SortValue, ...]:
    values: tuple[SortValue, ...] = tuple(getattr(student, key.field.value) for key in order)
    return values


# The longest cursor a client may send back: twice what the longest position encodes to.
MAX_CURSOR_LENGTH = 2048


def encode_cursor(position: tuple[SortValue, ...], order: tuple[SortKey, ...]) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else str(v) for v in position]
    # UTF-8 as it is, not \u escapes: a name of 100 astral characters is 400 bytes, not 1,200,
    # which keeps the longest cursor well below MAX_CURSOR_LENGTH (tests/unit/test_cursor.py).
    payload = json.dumps(
        {"v": _VERSION, "o": _signature(order), "k": values}, separators=(",", ":"), ensure_ascii=False
    )
    return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, order: tuple[SortKey, ...]) -> tuple[SortValue, ...]:
    invalid = InvalidQuery("cursor", "is not a cursor this listing issued")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # "[[[[..." nests past the decoder's limit
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("v") != _VERSION:
        raise invalid
    if payload.get("o") != _signature(order):
        raise InvalidQuery("cursor", "was issued for a different sort order")
    values = payload.get("k")
    if not isinstance(values, list) or len(values) != len(order):
        raise invalid
    if not all(isinstance(value, str) for value in values):
        raise invalid
    try:
        return tuple(_PARSE[key.field](value) for key, value in zip(order, values, strict=True))
    except (ValueError, InvalidOperation, OverflowError):
        raise invalid from None
