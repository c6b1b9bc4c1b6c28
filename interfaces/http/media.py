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


# Characters of a header's value that a 415 repeats; the rest is cut to "...".
_SHOWN = 64


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN else f"{value[:_SHOWN]}..."


def unsupported(found: str, accepted: tuple[str, ...], *, patch: bool = False) -> HttpProblem:
    """415, saying what would have worked (RFC 9110 section 15.5.16; RFC 5789's Accept-Patch)."""
    shown = _shown(found) if found else "no Content-Type"
    header = "Accept-Patch" if patch else "Accept"
    return HttpProblem(
        415,
        "unsupported-media-type",
        f"{shown} is not accepted here; send {' or '.join(accepted)}",
        headers={header: ", ".join(accepted)},
    )


def refused_body(scope: Scope, accepted: tuple[str, ...], *, patch: bool = False) -> HttpProblem | None:
    """The 415 a body is refused with before it is read, or None: one Content-Type among
    ``accepted``, and no content coding (a gzipped file would be read as its compressed bytes;
    RFC 9110 section 15.5.16 answers it with Accept-Encoding)."""
    types = [value for name, value in scope["headers"] if name == b"content-type"]
    if len(types) > 1:
        return HttpProblem(
            415,
            "unsupported-media-type",
            f"the request has {len(types)} Content-Type headers; send one of {' or '.join(accepted)}",
        )
    for name, value in scope["headers"]:
        if name == b"content-encoding":
            codings = [part.strip().lower() for part in bytes(value).decode("latin-1").split(",")]
            coded = [coding for coding in codings if coding and coding != "identity"]
            if coded:
                detail = f"a body in Content-Encoding {_shown(', '.join(coded))} is not accepted here"
                return HttpProblem(
                    415,
                    "unsupported-media-type",
                    f"{detail}; send it as it is",
                    headers={"Accept-Encoding": "identity"},
                )
    found = media_type_of(scope)
    return None if found in accepted else unsupported(found, accepted, patch=patch)
