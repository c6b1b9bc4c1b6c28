"""Entity tags and conditional requests (RFC 9110 section 13) for optimistic concurrency.

A student's ETag is its version, which grows with every change. Writes must name the version the
client last saw (If-Match); the use-case then updates only if the stored row is still at that
version, in one atomic statement, so the check holds across any number of server processes.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from domain.student import Student
from interfaces.http.problems import HttpProblem

_STRONG_TAG = re.compile(r'"(\d{1,18})"')
# Versions are stored as 32-bit integers: a tag naming a larger one cannot be current.
_MAX_VERSION = 2**31 - 1
_MAX_IF_MATCH_LENGTH = 100

# If-Match is read by if_match_header() rather than declared as a parameter, so that a missing
# one is 428, not a validation error; this documents it, as required, in OpenAPI.
IF_MATCH_PARAMETER: dict[str, Any] = {
    "name": "if-match",  # spelt as FastAPI spells the other header parameters
    "in": "header",
    "required": True,
    "description": 'The ETag of the student as you last read it (e.g. `"3"`), or `*`. '
    "Without it: 428; if the student has changed since: 412.",
    "schema": {"type": "string", "maxLength": _MAX_IF_MATCH_LENGTH},
}


def etag_of(student: Student) -> str:
    return f'"{student.version}"'


def _tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header demands; ``None`` for ``*`` (any current version)."""
    if if_match is None:
        raise HttpProblem(
            428,
            "precondition-required",
            "this request must carry If-Match with the ETag of the student you are changing; "
            "GET the student to learn it",
        )
    if len(if_match) > _MAX_IF_MATCH_LENGTH:
        raise HttpProblem(400, "bad-if-match", f"If-Match is longer than {_MAX_IF_MATCH_LENGTH} characters")
    tags = _tags(if_match)
    if tags == ["*"]:
        return None
    if len(tags) != 1:
        raise HttpProblem(400, "bad-if-match", "If-Match must carry exactly one entity tag, or *")
    match = _STRONG_TAG.fullmatch(tags[0])
    # A weak or foreign tag can never match strongly (RFC 9110 section 13.1.1); nor can a version
    # no student can reach.
    if match is None or int(match.group(1)) > _MAX_VERSION:
        raise HttpProblem(412, "stale-version", "If-Match does not match the student's current ETag")
    return int(match.group(1))


async def if_match_header(request: Request) -> str | None:
    """The raw If-Match header. The route judges it with expected_version() once the rest of the
    request has been validated: a malformed id or body is 422 whatever the header says."""
    return request.headers.get("if-match")


def matches_none(if_none_match: str | None, student: Student) -> bool:
    """False when If-None-Match names the current representation, i.e. the answer is 304."""
    if if_none_match is None:
        return True
    current = etag_of(student)
    # If-None-Match compares weakly: W/"3" names the same representation as "3".
    return not any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(if_none_match))
