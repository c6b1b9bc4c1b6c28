"""RFC 9457 problem details: the one table that maps every error to an HTTP answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match

from application.errors import (
    ApplicationError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidPrecondition,
    InvalidQuery,
    Overloaded,
    PreconditionRequired,
    StoreNotMigrated,
    StoreUnavailable,
)
from application.use_cases.import_students import ImportConflict, ImportRejected, UnreadableFile
from application.wording import decoder_complaint
from domain.errors import (
    DomainError,
    EmailAlreadyRegistered,
    InvalidStudentData,
    StaleVersion,
    StudentNotFound,
)
from infrastructure.observability.context import current_request_id
from interfaces.http.head import asked_method

PROBLEM_JSON = "application/problem+json"

TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    414: "URI too long",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ProblemResponse(Response):
    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class HttpProblem(Exception):
    """Raised by the interface layer itself (bad headers, media types) to answer with a problem."""

    def __init__(self, status: int, slug: str, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.slug = slug
        self.detail = detail
        self.headers = headers
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class FieldIssue:
    location: str
    field: str
    message: str
    line: int | None = None  # of an imported file


def body_too_large(limit: int) -> str:
    return f"the request body is larger than the {limit} bytes this service accepts"


# What RFC 3986 lets a path hold as it is (pchar and "/"); the rest is percent-encoded.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def _reference(path: str) -> str:
    """The decoded request path as a URI reference again: percent-encoded wherever it holds a
    space, a control or any other character its encoding stood for; and never starting "//",
    which would name another host (RFC 3986 section 4.2 writes such a path "/.//")."""
    reference = quote(path, safe=_PATH_SAFE, errors="surrogatepass")
    return f"/.{reference}" if reference.startswith("//") else reference


def problem_response(
    instance: str,
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[FieldIssue] = (),
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    """A problem document for ``instance`` (the request path); usable before routing, in middleware."""
    body: dict[str, Any] = {
        # Relative references, resolved against the service's own URL (RFC 9457 section 3.1.1).
        "type": f"/problems/{slug}",
        "title": title or TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": _reference(instance),
    }
    if errors:
        body["errors"] = [_issue(e) for e in errors]
    request_id = current_request_id.get()
    if request_id is not None:
        # Quoted by a client reporting the problem, it finds the request's log lines.
        body["request_id"] = request_id
    return ProblemResponse(body, status_code=status, headers=headers)


def _issue(issue: FieldIssue) -> dict[str, Any]:
    rendered: dict[str, Any] = {"location": issue.location, "field": issue.field, "message": issue.message}
    if issue.line is not None:
        rendered["line"] = issue.line
    return rendered


def problem(
    request: Request,
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[FieldIssue] = (),
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    # The path as the client sent it, decoded: request.url.path is already re-encoded in part.
    return problem_response(
        request.scope["path"], status, slug, detail, title=title, errors=errors, headers=headers
    )


# Domain and application errors -> (status, problem type slug). One table, one place.
_DOMAIN_STATUS: dict[type[Exception], tuple[int, str]] = {
    StudentNotFound: (404, "student-not-found"),
    EmailAlreadyRegistered: (409, "email-already-registered"),
    StaleVersion: (412, "stale-version"),
    # The same type as a body that fails its schema: either way, errors[] names every bad field.
    InvalidStudentData: (422, "validation-error"),
    InvalidQuery: (422, "invalid-query"),
    InvalidPrecondition: (400, "bad-if-match"),
    PreconditionRequired: (428, "precondition-required"),
    IdempotencyKeyInFlight: (409, "idempotency-key-in-flight"),
    IdempotencyKeyReused: (422, "idempotency-key-reused"),
    ImportRejected: (422, "import-rejected"),
    ImportConflict: (409, "import-conflict"),
    UnreadableFile: (422, "unreadable-file"),
    Overloaded: (503, "overloaded"),
    StoreNotMigrated: (503, "database-not-migrated"),
    StoreUnavailable: (503, "database-unavailable"),
}
# When a retry may succeed: in a second, or, where a person or a failover acts first (a
# migration is run by a person or a deploy, a read-only database waits for a failover), in ten.
RETRY_SOON = {"Retry-After": "1"}
RETRY_LATER = {"Retry-After": "10"}
# Extra headers some answers carry.
_DOMAIN_HEADERS: dict[type[Exception], dict[str, str]] = {
    IdempotencyKeyInFlight: RETRY_SOON,
    ImportConflict: RETRY_SOON,
    Overloaded: RETRY_SOON,
    StoreUnavailable: RETRY_SOON,
    StoreNotMigrated: RETRY_LATER,
}


def _status_for(exc: Exception) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in _DOMAIN_STATUS:
            return _DOMAIN_STATUS[cls]
    return 500, "internal-error"


class UnmappedError(Exception):
    """A use-case declares an error that the table above answers with no status of its own."""


def statuses_of(errors: tuple[type[Exception], ...]) -> set[int]:
    """The statuses the table answers these errors with (what a use-case's ``raises`` documents).

    Raises ``UnmappedError`` naming any error the table does not know: declared, it would be
    answered 500, and a refusal the use-case expects is not a bug.
    """
    statuses: set[int] = set()
    for error in errors:
        status = next((_DOMAIN_STATUS[cls][0] for cls in error.__mro__ if cls in _DOMAIN_STATUS), None)
        if status is None:
            raise UnmappedError(
                f"{error.__module__}.{error.__qualname__} has no row in _DOMAIN_STATUS in "
                "interfaces/http/problems.py: give it a status and a problem type"
            )
        statuses.add(status)
    return statuses


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries declaring that each status answers with a problem document.

    The ``Problem`` schema itself is added to the document's components by install_openapi.
    """
    return {
        status: {
            "description": TITLES.get(status, "Error"),
            # Examples of the types it can carry are fitted to each operation (openapi.py).
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    status, slug = _status_for(exc)
    errors: list[FieldIssue] = []
    if isinstance(exc, InvalidStudentData):
        errors = [FieldIssue("body", e.field, e.message) for e in exc.errors]
    elif isinstance(exc, InvalidQuery):
        errors = [FieldIssue("query", exc.parameter, exc.message)]
    elif isinstance(exc, ImportRejected):
        errors = [FieldIssue("body", e.field, e.message, line=e.line) for e in exc.errors]
    elif isinstance(exc, UnreadableFile):
        errors = [FieldIssue("body", "file", exc.reason, line=exc.line)]
    headers = next((_DOMAIN_HEADERS[cls] for cls in type(exc).__mro__ if cls in _DOMAIN_HEADERS), None)
    return problem(request, status, slug, str(exc), errors=errors, headers=headers)


async def _on_http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpProblem)
    return problem(request, exc.status, exc.slug, exc.detail, headers=exc.headers)


def _location_and_field(loc: Sequence[int | str]) -> tuple[str, str]:
    if not loc:
        return "body", ""
    location, *rest = loc
    return str(location), ".".join(str(part) for part in rest)


# A problem lists at most this many field errors: an answer must not grow with what was sent.
MAX_FIELD_ERRORS = 20


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    issues = []
    malformed = False
    for error in errors[:MAX_FIELD_ERRORS]:
        location, field = _location_and_field(error.get("loc", ()))
        # A rule's own words, without pydantic's prefix: "must not be blank".
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            # FastAPI's loc is ("body", offset): the offset is no field, so it goes in the words.
            malformed = True
            message = str((error.get("ctx") or {}).get("error") or message)
            offset, field = field, ""
            if offset.isdigit():
                message = decoder_complaint(message, int(offset))
        elif error.get("type") == "extra_forbidden":
            message = "is not a known field"
        issues.append(FieldIssue(location, field, message))
    if malformed:
        detail = "the request body is not valid JSON"
        return problem(request, 422, "malformed-json", detail, title="Malformed JSON", errors=issues)
    detail = "; ".join(f"{i.field or i.location}: {i.message}" for i in issues)
    if len(errors) > MAX_FIELD_ERRORS:
        detail += f"; and {len(errors) - MAX_FIELD_ERRORS} more"
    return problem(request, 422, "validation-error", detail, errors=issues)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no resource at {request.scope['path']}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = f"{asked_method(request.scope)} is not allowed on {request.scope['path']}"
        headers = {"Allow": _allowed_methods(request)}
    return problem(request, exc.status_code, slug, detail, headers=headers)


def _leaf_routes(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    # Newer FastAPI keeps an included router as one node that holds the router's own routes.
    leaves: list[BaseRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        leaves.extend(_leaf_routes(inner.routes) if inner is not None else [route])
    return leaves


def _allowed_methods(request: Request) -> str:
    # Starlette names only the first route that matched the path; RFC 9110 wants every method.
    methods: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(with_head(methods)))


def with_head(methods: set[str]) -> set[str]:
    """Every GET answers HEAD too (interfaces/http/head.py)."""
    return methods | {"HEAD"} if "GET" in methods else methods


def install_problem_handlers(app: FastAPI) -> None:
    handlers: dict[type[Exception], Callable[[Request, Exception], Any]] = {
        DomainError: _on_domain_error,
        ApplicationError: _on_domain_error,
        HttpProblem: _on_http_problem,
        RequestValidationError: _on_validation_error,
        StarletteHTTPException: _on_http_exception,
        # Anything else is answered by interfaces/http/observability.py, which sees every request.
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
