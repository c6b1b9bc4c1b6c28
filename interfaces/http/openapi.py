"""The OpenAPI document: response headers described once, and the document built once.

Problem documents are described by one ``Problem`` schema in ``components``, referenced from
every error response as ``application/problem+json`` (the only type they are served as).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from interfaces.http.operations import SECURITY_SCHEME

_STRING = {"type": "string"}

ETAG: dict[str, Any] = {
    "ETag": {
        "description": "The student's version as an entity tag; send it back in If-Match",
        "schema": _STRING,
    }
}
LOCATION: dict[str, Any] = {"Location": {"description": "URL of the student", "schema": _STRING}}
REPLAYED: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same key",
        "schema": _STRING,
    }
}
LINK: dict[str, Any] = {
    "Link": {
        "description": 'RFC 8288 link to the next page (`rel="next"`), with the same filters; '
        "absent on the last page",
        "schema": _STRING,
    }
}


_BEARER: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT whose `scope` claim grants students:read, students:write or students:admin. "
    "Locally, `students token students:read students:write` mints one.",
}


def _component_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """JSON schemas of ``models`` and of the models they use, as OpenAPI components."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


_DESCRIPTION = """\
Student records (name, email, department, CGPA) kept in a relational database.

Every error is `application/problem+json` (RFC 9457) and every answer carries `X-Request-ID`.
Writes name the version they change (`If-Match` with the `ETag` of a read); a POST is safe to
retry with `Idempotency-Key`; lists page by cursor (`next_cursor`, `Link: rel="next"`).
Bearer tokens carry the scopes `students:read`, `students:write` and `students:admin`.
"""
_TAGS = [
    {"name": "students", "description": "Register, read, list, change and remove students"},
    {"name": "bulk", "description": "Whole files of students in and out (scope students:admin)"},
    {"name": "operations", "description": "Liveness, readiness and metrics, for orchestrators"},
    {"name": "docs", "description": "This document and its pages"},
]
_REQUEST_ID: dict[str, Any] = {
    "X-Request-ID": {
        "description": "The request's id: the client's own when it sent a well-formed one, else a new "
        "one; in every log line of the request",
        "schema": {"type": "string", "maxLength": 200},
    }
}
# Sent with these statuses (interfaces/http/problems.py, operations.py).
_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {"description": "Seconds after which a retry may succeed", "schema": {"type": "integer"}}
}
_CHALLENGE: dict[str, Any] = {
    "WWW-Authenticate": {"description": "RFC 6750 bearer challenge: what was wrong", "schema": _STRING}
}
_RATE_LIMITED: dict[str, Any] = {
    **_RETRY_AFTER,
    "RateLimit-Policy": {
        "description": 'The budget spent: `"caller";q=200;w=2` (IETF RateLimit header fields)',
        "schema": _STRING,
    },
    "RateLimit": {
        "description": 'What is left of it and for how long: `"caller";r=0;t=1`',
        "schema": _STRING,
    },
}
_HEADERS_BY_STATUS: dict[str, dict[str, Any]] = {
    "401": _CHALLENGE,
    "403": _CHALLENGE,
    "409": _RETRY_AFTER,
    "429": _RATE_LIMITED,
    "503": _RETRY_AFTER,
}


def install_openapi(app: FastAPI, *extra_models: type[BaseModel], public_base_url: str | None = None) -> None:
    """Build the document on first use, with ``extra_models`` added to its components."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            built = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=_DESCRIPTION,
                routes=app.routes,
                tags=_TAGS,
                servers=[{"url": public_base_url or "/", "description": "this service"}],
                license_info={"name": "MIT", "identifier": "MIT"},
                contact={"name": "The students service authors", "url": "https://spdx.org/licenses/MIT.html"},
            )
            _add_head_operations(built)
            _add_response_headers(built)
            components = built.setdefault("components", {})
            components.setdefault("schemas", {}).update(_component_schemas(*extra_models))
            components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = _BEARER
            app.openapi_schema = built
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _add_head_operations(document: dict[str, Any]) -> None:
    """A HEAD operation beside every GET (interfaces/http/head.py): the GET's parameters, security
    and statuses with their headers, and no content."""
    for item in document.get("paths", {}).values():
        get = item.get("get")
        if get is None or "head" in item:
            continue
        head = {
            key: value for key, value in get.items() if key not in ("responses", "operationId", "summary")
        }
        head["operationId"] = f"{get['operationId']}_head"
        head["summary"] = f"{get.get('summary', 'The GET')}: its status and headers only"
        head["responses"] = {
            status: {key: value for key, value in response.items() if key != "content"}
            for status, response in get["responses"].items()
        }
        item["head"] = head


def _add_response_headers(document: dict[str, Any]) -> None:
    """Every response's X-Request-ID, and the headers that come with some statuses."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers.update(_REQUEST_ID)
                headers.update(_HEADERS_BY_STATUS.get(str(status), {}))
