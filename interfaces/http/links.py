"""The links the service hands out (Location, Link): on PUBLIC_BASE_URL, or relative references.

Never built from the request's Host header, which the client chose: behind a proxy, or with a
forged Host, that would send the next request somewhere else (``Host: evil.example``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.datastructures import URL

_BASE_URL = "public_base_url"


def install_links(app: FastAPI, public_base_url: str | None) -> None:
    setattr(app.state, _BASE_URL, public_base_url)


def link_to(request: Request, path: str, query: str = "") -> str:
    """``path`` (and ``query``) as an absolute URL on PUBLIC_BASE_URL, or else as a relative
    reference from this server's root (RFC 9110 allows one in Location, RFC 8288 in Link)."""
    base = getattr(request.app.state, _BASE_URL, None)
    prefix = base if base is not None else request.scope.get("root_path", "")
    return f"{prefix}{path}?{query}" if query else f"{prefix}{path}"


def with_query(request: Request, **changes: str) -> str:
    """The request's own query string with ``changes`` applied (the next page of a listing)."""
    return URL(query=request.url.query).include_query_params(**changes).query
