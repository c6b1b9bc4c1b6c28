"""Entity tags and conditional requests (RFC 9110 section 13), read from the headers.

A student's ETag is its version, quoted: ``"3"``. This module only reads what the client sent;
the use-case judges it (application/preconditions.py says in which order). Tags are opaque and
compared octet by octet, so ``"01"`` is not ``"1"``. A header sent on several lines is one
comma-separated list (RFC 9110 section 5.3).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from application.preconditions import (
    AllOf,
    AnyVersion,
    Missing,
    NoneOfTags,
    OneOfTags,
    Precondition,
    Unreadable,
    version_tag,
)
from domain.student import Student
from interfaces.http.handlers import cannot_refuse
from interfaces.http.operations import documents, refuses
from interfaces.http.problems import HttpProblem

MAX_CONDITION_LENGTH = 512
# One entity tag (RFC 9110 8.8.3): optional W/, then any visible characters but '"' in quotes.
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*')

# If-Match is read by if_match_precondition() rather than declared as a parameter, so that a
# missing one is 428, not a validation error; this documents it, as required, in OpenAPI.
IF_MATCH_PARAMETER: dict[str, Any] = {
    "name": "if-match",  # spelt as FastAPI spells the other header parameters
    "in": "header",
    "required": True,
    "description": 'The ETag of the student as you last read it (e.g. `"3"`), a list of ETags, or `*`. '
    "Without it: 428; if the student's current ETag is not among them: 412.",
    "schema": {"type": "string", "maxLength": MAX_CONDITION_LENGTH},
}


IF_MATCH_ON_READ_PARAMETER: dict[str, Any] = {
    "name": "if-match",
    "in": "header",
    "required": False,
    "description": "ETags of which the student must be at one (or `*`); 412 if it is at none of them",
    "schema": {"type": "string", "maxLength": MAX_CONDITION_LENGTH},
}
IF_NONE_MATCH_PARAMETER: dict[str, Any] = {
    "name": "if-none-match",
    "in": "header",
    "required": False,
    "description": "ETags you hold (or `*`); 304 if one of them is current",
    "schema": {"type": "string", "maxLength": MAX_CONDITION_LENGTH},
}


def etag_of(student: Student) -> str:
    return f'"{version_tag(student.version)}"'


def _list_items(value: str) -> list[str]:
    """The elements of a comma-separated header list, empty ones left out (RFC 9110 5.6.1)."""
    items: list[str] = []
    position, length = 0, len(value)
    while position < length:
        if value[position] in " \t,":
            position += 1
            continue
        if value[position] == "*":
            items.append("*")
            position += 1
            continue
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            raise ValueError("not a list of entity tags")
        items.append(match.group(0).strip(" \t"))
        position = match.end()
        if position < length and value[position] not in ", \t":
            raise ValueError("entity tags must be separated by commas")
    return items


def _entity_tags(value: str) -> list[tuple[bool, str]] | None:
    """``(weak, opaque)`` for each tag of a comma-separated list; None if it is not one."""
    try:
        items = _list_items(value)
    except ValueError:
        return None
    if not items or "*" in items:
        return None
    tags = []
    for item in items:
        weak = item.startswith("W/")
        tags.append((weak, item[3:-1] if weak else item[1:-1]))
    return tags


def _is_any(value: str) -> bool:
    """``*`` and nothing else (empty list elements aside): any current representation."""
    try:
        return _list_items(value) == ["*"]
    except ValueError:
        return False


def _joined(request: Request, name: str) -> str | None:
    lines = request.headers.getlist(name)
    return ", ".join(lines) if lines else None


def _too_long(header: str) -> str:
    return f"{header} is longer than {MAX_CONDITION_LENGTH} characters"


def read_if_match(value: str | None) -> Precondition:
    """What an If-Match header (all its lines joined) asks of the student's current version."""
    if value is None:
        return Missing()
    if len(value) > MAX_CONDITION_LENGTH:
        return Unreadable(_too_long("If-Match"))
    if _is_any(value):
        return AnyVersion()
    tags = _entity_tags(value)
    if tags is None:
        return Unreadable('If-Match must be * or a comma-separated list of entity tags such as "3"')
    return OneOfTags(frozenset(opaque for weak, opaque in tags if not weak))


def read_if_none_match(value: str) -> Precondition:
    """What If-None-Match asks of a write: that the current tag is none of those named."""
    if len(value) > MAX_CONDITION_LENGTH:
        return Unreadable(_too_long("If-None-Match"))
    if _is_any(value):
        return NoneOfTags(every=True)
    tags = _entity_tags(value)
    if tags is None:
        return Unreadable('If-None-Match must be * or a comma-separated list of entity tags such as "3"')
    return NoneOfTags(frozenset(opaque for _weak, opaque in tags))


@documents(IF_MATCH_PARAMETER)
@cannot_refuse  # a header that is no precondition is Unreadable, which the use-case refuses (400)
async def if_match_precondition(request: Request) -> Precondition:
    """If-Match (and If-None-Match, when a write has one) as sent: the use-case judges them."""
    condition = read_if_match(_joined(request, "if-match"))
    none_match = _joined(request, "if-none-match")
    if none_match is None:
        return condition
    return AllOf((condition, read_if_none_match(none_match)))


@documents(IF_MATCH_ON_READ_PARAMETER)
async def if_match_on_read(request: Request) -> Precondition | None:
    """If-Match on a GET, when there is one (RFC 9110 13.2.2: false is 412 there too)."""
    value = _joined(request, "if-match")
    return None if value is None else read_if_match(value)


def matches_none(if_none_match: str | None, student: Student) -> bool:
    """False when If-None-Match names the current representation, i.e. the answer is 304.

    If-None-Match compares weakly: ``W/"3"`` names the same representation as ``"3"``. A header
    that is not a list of tags is ignored, as RFC 9110 section 13.1.2 allows for a GET.
    """
    if if_none_match is None:
        return True
    if _is_any(if_none_match):
        return False
    tags = _entity_tags(if_none_match)
    current = version_tag(student.version)
    return tags is None or all(opaque != current for _weak, opaque in tags)


@documents(IF_NONE_MATCH_PARAMETER)
@refuses(400)
async def if_none_match_header(request: Request) -> str | None:
    value = _joined(request, "if-none-match")
    if value is not None and len(value) > MAX_CONDITION_LENGTH:
        raise HttpProblem(400, "bad-if-none-match", _too_long("If-None-Match"))
    return value
