"""The OpenAPI document: response headers described once, and the document built once.

Problem documents are described by one ``Problem`` schema in ``components``, referenced from
every error response as ``application/problem+json`` (the only type they are served as).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from interfaces.http import problem_types
from interfaces.http.operations import SECURITY_SCHEME
from interfaces.http.problems import PROBLEM_JSON, TITLES

# The longest URL this service writes into a header (Location, Link): a base URL, a path and a
# page's filters, each of them bounded where it is read.
_URL_LENGTH = 8192
_INT32_MAX = 2**31 - 1

ETAG: dict[str, Any] = {
    "ETag": {
        "description": "The student's version as an entity tag; send it back in If-Match",
        "schema": {"type": "string", "pattern": '^"[0-9]{1,10}"$', "maxLength": 12, "example": '"3"'},
    }
}
LOCATION: dict[str, Any] = {
    "Location": {
        "description": "URL of the student",
        "schema": {"type": "string", "format": "uri-reference", "maxLength": _URL_LENGTH},
    }
}
REPLAYED: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same key; "
        "absent otherwise",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
LINK: dict[str, Any] = {
    "Link": {
        "description": 'RFC 8288 link to the next page (`rel="next"`), with the same filters; '
        "absent on the last page",
        "schema": {"type": "string", "pattern": '^<[^>]+>; rel="next"$', "maxLength": _URL_LENGTH},
    }
}


_BEARER: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT whose `scope` claim grants students:read, students:write or students:admin. "
    "Locally, `students token students:read students:write` mints one. Verified as RFC8725 (JWT "
    "best current practices) asks: the algorithms are pinned by configuration (`AUTH_ALGORITHMS`) and "
    "never taken from the token, `none` is never accepted, HMAC keys are at least 32 bytes, `exp` and "
    "`sub` are required, and `iss`/`aud` are checked when configured.",
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
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:+/=-]{1,128}$", "maxLength": 128},
    }
}
_CORS_ORIGIN: dict[str, Any] = {
    "Access-Control-Allow-Origin": {
        "description": "The request's `Origin`, when it is one of `CORS_ORIGINS` (none by default: "
        "then this header is never sent and no browser page on another origin may read an answer)",
        "schema": {"type": "string", "format": "uri", "maxLength": 2048},
    }
}
# Sent with these statuses (interfaces/http/problems.py, operations.py).
_RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds after which a retry may succeed",
        "schema": {"type": "integer", "format": "int32", "minimum": 0, "maximum": _INT32_MAX},
    }
}
_CHALLENGE: dict[str, Any] = {
    "WWW-Authenticate": {
        "description": "RFC 6750 bearer challenge: what was wrong",
        "schema": {"type": "string", "pattern": "^Bearer( |$)", "maxLength": 512},
    }
}
# On every answer of an operation that spends a budget (interfaces/http/rate_limit.py): one item
# per budget spent, the client address's and, once authenticated, the caller's.
RATE_LIMITS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": "The budgets this request spent (IETF RateLimit header fields): quota `q` in "
        'a window of `w` seconds. With the defaults, `"address";q=400;w=2, "caller";q=200;w=2`: 400 '
        "requests in 2 s from this address, 200 from this caller",
        "schema": {"type": "string", "pattern": '^"(address|caller)";q=[0-9]+;w=[0-9]+', "maxLength": 200},
    },
    "RateLimit": {
        "description": 'What is left of each and in how many seconds it is whole again: `"caller";r=199;t=1`',
        "schema": {"type": "string", "pattern": '^"(address|caller)";r=[0-9]+;t=[0-9]+', "maxLength": 200},
    },
}
_HEADERS_BY_STATUS: dict[str, dict[str, Any]] = {
    "401": _CHALLENGE,
    "403": _CHALLENGE,
    "409": _RETRY_AFTER,
    "429": _RETRY_AFTER,
    "503": _RETRY_AFTER,
}
# ENVIRONMENT's words for the server entry (a reader must see which environment a URL is).
_ENVIRONMENT_NAMES = {"development": "local development", "test": "test", "production": "production"}


def install_openapi(
    app: FastAPI,
    *extra_models: type[BaseModel],
    public_base_url: str | None = None,
    environment: str = "development",
    rate_limit_exempt: frozenset[str] | None = None,
    streamed_body_limits: Mapping[str, int] | None = None,
    root_path: str = "",
) -> None:
    """Build the document on first use, with ``extra_models`` added to its components.

    Every path but those in ``rate_limit_exempt`` spends a rate-limit budget, and says so in
    its answers; ``None`` when rate limits are off. A body read as a stream (an import) is as
    long as ``streamed_body_limits`` lets it be, in bytes, and so in characters at most."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            built = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=_DESCRIPTION,
                routes=app.routes,
                tags=_TAGS,
                servers=[
                    {
                        "url": public_base_url or "/",
                        "description": f"this service ({_ENVIRONMENT_NAMES.get(environment, environment)})",
                        "x-internal": False,
                    }
                ],
                license_info={"name": "MIT", "identifier": "MIT"},
                contact={"name": "The students service authors", "url": "https://spdx.org/licenses/MIT.html"},
            )
            _add_head_operations(built)
            _add_response_headers(built, rate_limit_exempt)
            _bound_streamed_bodies(built, streamed_body_limits or {})
            components = built.setdefault("components", {})
            components.setdefault("schemas", {}).update(_component_schemas(*extra_models))
            _add_media_examples(built)
            _add_problem_examples(built, root_path)
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


def _add_response_headers(document: dict[str, Any], exempt: frozenset[str] | None) -> None:
    """Every response's X-Request-ID and CORS origin, the rate-limit fields where budgets are
    spent, and the headers that come with some statuses."""
    for path, item in document.get("paths", {}).items():
        limited = exempt is not None and path not in exempt
        for operation in item.values():
            responses = operation.get("responses", {})
            if not limited:
                responses.pop("429", None)
            for status, response in responses.items():
                headers = response.setdefault("headers", {})
                headers.update(_REQUEST_ID)
                headers.update(_CORS_ORIGIN)
                if limited:
                    headers.update(RATE_LIMITS)
                headers.update(_HEADERS_BY_STATUS.get(str(status), {}))


def _bound_streamed_bodies(document: dict[str, Any], limits: Mapping[str, int]) -> None:
    for path, limit in limits.items():
        for operation in document.get("paths", {}).get(path, {}).values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if media.get("schema", {}).get("type") == "string":
                    media["schema"] = {**media["schema"], "maxLength": limit}


def _add_media_examples(document: dict[str, Any]) -> None:
    """Each JSON request body and success response shows its schema's first example (schemas.py)."""
    schemas = document.get("components", {}).get("schemas", {})

    def exemplify(content: dict[str, Any]) -> None:
        for media in content.values():
            reference = media.get("schema", {}).get("$ref", "")
            examples = schemas.get(reference.rsplit("/", 1)[-1], {}).get("examples")
            if examples and "example" not in media and "examples" not in media:
                media["example"] = examples[0]

    for item in document.get("paths", {}).values():
        for operation in item.values():
            exemplify(operation.get("requestBody", {}).get("content", {}))
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    exemplify(response.get("content", {}))


def _features(path: str, operation: dict[str, Any]) -> set[str]:
    """What problem types may need of an operation (problem_types.py), read off its document."""
    has = {parameter["name"] for parameter in operation.get("parameters", [])}
    if any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
        has.add(problem_types.QUERY)
    content = operation.get("requestBody", {}).get("content", {})
    if content:
        has.add(problem_types.BODY)
    if any(media == "application/json" or media.endswith("+json") for media in content):
        has.add(problem_types.JSON_BODY)
    if "{student_id}" in path:
        has.add(problem_types.STUDENT_ID)
    for suffix, feature in (("/import", problem_types.IMPORT), ("/export", problem_types.EXPORT)):
        if path.endswith(suffix):
            has.add(feature)
    if path == "/readyz":
        has.add(problem_types.READINESS)
    return has


def _add_problem_examples(document: dict[str, Any], root_path: str) -> None:
    """Under each error status of each operation, an example of every problem type it can meet."""
    for path, item in document.get("paths", {}).items():
        instance = root_path + path.replace("{student_id}", problem_types.EXAMPLE_ID)
        for operation in item.values():
            has = _features(path, operation)
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get(PROBLEM_JSON)
                if media is None:
                    continue
                title = TITLES.get(int(status), "Error")
                examples = problem_types.examples_for(int(status), title, instance, has)
                if examples:
                    media["examples"] = examples
