"""Request media types: refuse bodies we would otherwise misread, with 415 and what we accept."""

from __future__ import annotations

from fastapi import Request

from interfaces.http.problems import HttpProblem

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _refuse(found: str, accepted: tuple[str, ...]) -> HttpProblem:
    shown = found or "no Content-Type"
    return HttpProblem(
        415,
        "unsupported-media-type",
        f"{shown} is not accepted here; send {' or '.join(accepted)}",
        # RFC 9110 section 15.5.16 / RFC 5789 Accept-Patch: say what would have worked.
        headers={"Accept": ", ".join(accepted)},
    )


async def require_json(request: Request) -> None:
    if _media_type(request) != JSON:
        raise _refuse(_media_type(request), (JSON,))


async def require_merge_patch(request: Request) -> None:
    if _media_type(request) not in (MERGE_PATCH, JSON):
        error = _refuse(_media_type(request), (MERGE_PATCH, JSON))
        error.headers = {"Accept-Patch": f"{MERGE_PATCH}, {JSON}"}
        raise error
