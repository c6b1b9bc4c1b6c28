"""The shape of a request beyond its schema: media types (415) and query strings nobody reads."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.exceptions import RequestValidationError

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


async def no_query_parameters(request: Request) -> None:
    """For operations that take no query parameters: any given is a client's mistake, so say so."""
    query = request.scope["query_string"]
    if query:
        names = sorted({name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)})
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "is not a known parameter"}
                for name in names or [""]
            ]
        )


async def single_valued_query(request: Request) -> None:
    """Each query parameter at most once: of ``?q=a&q=b`` one would be ignored without a word."""
    names = [name for name, _ in request.query_params.multi_items()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RequestValidationError(
            [
                {"type": "repeated", "loc": ("query", name), "msg": "is given more than once"}
                for name in repeated
            ]
        )
