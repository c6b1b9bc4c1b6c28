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
    AnyVersion,
    Missing,
    OneOfTags,
    Precondition,
    Unreadable,
    version_tag,
)
from domain.student import Student
from interfaces.http.problems import HttpProblem

MAX_CONDITION_LENGTH = 512
# One entity tag (RFC 9110 8.8.3): optional W/, then any visible characters but '"' in quotes.
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*')
_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")

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


IF_NONE_MATCH_PARAMETER: dict[str, Any] = {
    "name": "if-none-match",
    "in": "header",
    "required": False,
    "description": "ETags you hold (or `*`); 304 if one of them is current",
    "schema": {"type": "string", "maxLength": MAX_CONDITION_LENGTH},
}


def etag_of(student: Student) -> str:
    return f'"{version_tag(student.version)}"'


def _entity_tags(value: str) -> list[tuple[bool, str]] | None:
    """``(weak, opaque)`` for each tag of a comma-separated list; None if it is not one."""
    tags: list[tuple[bool, str]] = []
    position = 0
    while True:
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
        if position == len(value):
            return tags
        separator = _SEPARATOR.match(value, position)
        if separator is None:
            return None
        position = separator.end()


def _joined(request: Request, name: str) -> str | None:
    lines = request.headers.getlist(name)
    return ", ".join(lines) if lines else None


def read_if_match(value: str | None) -> Precondition:
    """What an If-Match header (all its lines joined) asks of the student's current version."""
    if value is None:
        return Missing()
    if len(value) > MAX_CONDITION_LENGTH:
        return Unreadable(f"If-Match is longer than {MAX_CONDITION_LENGTH} characters")
    items = [item.strip() for item in value.split(",")]
    if items and all(item == "*" for item in items):
        return AnyVersion()
    tags = _entity_tags(value)
    if tags is None:
        return Unreadable('If-Match must be * or a comma-separated list of entity tags such as "3"')
    return OneOfTags(frozenset(opaque for weak, opaque in tags if not weak))


async def if_match_precondition(request: Request) -> Precondition:
    """The If-Match of the request, unjudged: the use-case validates the request first."""
    return read_if_match(_joined(request, "if-match"))


def matches_none(if_none_match: str | None, student: Student) -> bool:
    """False when If-None-Match names the current representation, i.e. the answer is 304.

    If-None-Match compares weakly: ``W/"3"`` names the same representation as ``"3"``. A header
    that is not a list of tags is ignored, as RFC 9110 section 13.1.2 allows for a GET.
    """
    if if_none_match is None:
        return True
    if if_none_match.strip() == "*":
        return False
    tags = _entity_tags(if_none_match)
    current = version_tag(student.version)
    return tags is None or all(opaque != current for _weak, opaque in tags)


async def if_none_match_header(request: Request) -> str | None:
    value = _joined(request, "if-none-match")
    if value is not None and len(value) > MAX_CONDITION_LENGTH:
        raise HttpProblem(
            400, "bad-if-none-match", f"If-None-Match is longer than {MAX_CONDITION_LENGTH} characters"
        )
    return value
