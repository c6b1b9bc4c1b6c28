"""Opaque page cursors: the keyset position of the last student on a page, bound to its sort order.

A cursor is base64url-encoded JSON. It is not secret (it only holds values the client has already
seen on the page) but it is validated on the way in: a cursor made for another sort order, or one
whose values do not parse as the sort keys' types, is refused rather than producing a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from application.errors import InvalidQuery
from application.listing import SortField, SortKey, SortValue
from domain.student import Student

_VERSION = 1

_PARSE: dict[SortField, Callable[[str], SortValue]] = {
    SortField.ID: UUID,
    SortField.NAME: str,
    SortField.EMAIL: str,
    SortField.CGPA: Decimal,
    SortField.CREATED_AT: datetime.fromisoformat,
}


def _signature(order: tuple[SortKey, ...]) -> str:
    return ",".join(str(key) for key in order)


def position_of(student: Student, order: tuple[SortKey, ...]) -> tuple[SortValue, ...]:
    values: tuple[SortValue, ...] = tuple(getattr(student, key.field.value) for key in order)
    return values


def encode_cursor(position: tuple[SortValue, ...], order: tuple[SortKey, ...]) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else str(v) for v in position]
    payload = json.dumps({"v": _VERSION, "o": _signature(order), "k": values}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, order: tuple[SortKey, ...]) -> tuple[SortValue, ...]:
    invalid = InvalidQuery("cursor", "is not a cursor this listing issued")
    if len(cursor) > 2048:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("v") != _VERSION:
        raise invalid
    if payload.get("o") != _signature(order):
        raise InvalidQuery("cursor", "was issued for a different sort order")
    values = payload.get("k")
    if not isinstance(values, list) or len(values) != len(order):
        raise invalid
    try:
        position = tuple(
            _PARSE[key.field](value)
            for key, value in zip(order, values, strict=True)
            if isinstance(value, str)
        )
    except (ValueError, InvalidOperation):
        raise invalid from None
    if len(position) != len(order) or any(isinstance(v, Decimal) and not v.is_finite() for v in position):
        raise invalid
    if any(isinstance(v, datetime) and v.tzinfo is None for v in position):
        raise invalid
    return position
