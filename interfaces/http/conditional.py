"""Entity tags and conditional requests (RFC 9110 section 13) for optimistic concurrency.

A student's ETag is its version, which grows with every change. Writes must name the version the
client last saw (If-Match); the use-case then updates only if the stored row is still at that
version, in one atomic statement, so the check holds across any number of server processes.
"""

from __future__ import annotations

import re

from domain.student import Student
from interfaces.http.problems import HttpProblem

_STRONG_TAG = re.compile(r'"(\d{1,18})"')


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
    tags = _tags(if_match)
    if tags == ["*"]:
        return None
    if len(tags) != 1:
        raise HttpProblem(400, "bad-if-match", "If-Match must carry exactly one entity tag, or *")
    match = _STRONG_TAG.fullmatch(tags[0])
    if match is None:
        # A weak or foreign tag can never match strongly (RFC 9110 section 13.1.1).
        raise HttpProblem(412, "stale-version", "If-Match does not match the student's current ETag")
    return int(match.group(1))


def matches_none(if_none_match: str | None, student: Student) -> bool:
    """False when If-None-Match names the current representation, i.e. the answer is 304."""
    if if_none_match is None:
        return True
    current = etag_of(student)
    # If-None-Match compares weakly: W/"3" names the same representation as "3".
    return not any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(if_none_match))
