"""Media types of request bodies: which one a request says it sends, and the 415 that refuses it."""

from __future__ import annotations

from starlette.types import Scope

from interfaces.http.problems import HttpProblem

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def media_type_of(scope: Scope) -> str:
    """The media type of the request's Content-Type, lower case, without parameters."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def unsupported(found: str, accepted: tuple[str, ...], *, patch: bool = False) -> HttpProblem:
    """415, saying what would have worked (RFC 9110 section 15.5.16; RFC 5789's Accept-Patch)."""
    shown = found or "no Content-Type"
    header = "Accept-Patch" if patch else "Accept"
    return HttpProblem(
        415,
        "unsupported-media-type",
        f"{shown} is not accepted here; send {' or '.join(accepted)}",
        headers={header: ", ".join(accepted)},
    )
