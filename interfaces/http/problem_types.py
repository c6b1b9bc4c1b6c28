"""Every problem type the service answers with, and an example of each, for the OpenAPI document.

A problem's ``type`` is ``/problems/<slug>``. The examples are what a client sees, as the server
words them (tests/e2e/test_problem_examples.py holds the examples it can provoke to the real
answers). An operation's document lists, under each of its error statuses, the types it can meet
there: those that need nothing, and those whose ``needs`` the operation has (a body, an If-Match,
an Idempotency-Key, a student id in its path, a query, or being the import, the export or the
readiness probe); interfaces/http/openapi.py fits them to it, its own path as their ``instance``.
tests/unit/test_problem_types.py checks that every slug the code answers with is here, so a new
refusal cannot go undocumented.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

EXAMPLE_ID = "01890a5d-ac96-774b-bcce-b302099a8057"
_REQUEST_ID = "b6f2a1c04e3d4f5a9c8b7e6d5f4a3b2c"

# What an operation may have that some problem types need (openapi.py reads them off it).
BODY, JSON_BODY, IF_MATCH, IF_NONE_MATCH, IDEMPOTENCY_KEY, STUDENT_ID, QUERY = (
    "body",
    "json-body",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "student-id",
    "query",
)
IMPORT, EXPORT, READINESS = "import", "export", "readiness"


@dataclass(frozen=True, slots=True)
class ProblemType:
    status: int
    slug: str
    summary: str
    detail: str
    needs: str | None = None
    title: str | None = None  # when it is not the status's own (problems.TITLES)
    instance: str | None = None  # when it is not the operation's path
    errors: tuple[dict[str, Any], ...] = field(default=())

    def example(self, title: str, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title or title,
            "status": self.status,
            "detail": self.detail,
            "instance": self.instance or instance,
        }
        if self.errors:
            body["errors"] = list(self.errors)
        body["request_id"] = _REQUEST_ID
        return body


def _field(location: str, name: str, message: str, line: int | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"location": location, "field": name, "message": message}
    if line is not None:
        issue["line"] = line
    return issue


_P = ProblemType
PROBLEM_TYPES: tuple[ProblemType, ...] = (
    _P(400, "host-not-allowed", "A Host the service does not serve", "this service is not served under that name (Host)"),
    _P(400, "cors-refused", "A CORS preflight from an origin not allowed", "this cross-origin request is not allowed; refused: origin"),
    _P(400, "bad-idempotency-key", "More than one Idempotency-Key", "the request has more than one Idempotency-Key", IDEMPOTENCY_KEY),
    _P(400, "bad-if-match", "An If-Match that is not a list of entity tags", 'If-Match must be * or a comma-separated list of entity tags such as "3"', IF_MATCH),
    _P(400, "bad-if-none-match", "An If-None-Match too long to be one", "If-None-Match is longer than 512 characters", IF_NONE_MATCH),
    _P(401, "missing-token", "No bearer token", "this request needs an Authorization: Bearer <token> header"),
    _P(401, "invalid-token", "A token that is not valid", "the token has expired"),
    _P(403, "insufficient-scope", "A token without the scope", "this request needs the scope students:write, which the token does not grant"),
    _P(404, "student-not-found", "No such student", f"student {EXAMPLE_ID} does not exist", STUDENT_ID),
    _P(404, "not-found", "No such resource", "no resource at /student", instance="/student"),
    _P(405, "method-not-allowed", "A method the path does not have", "TRACE is not allowed on /students", instance="/students"),
    _P(406, "not-acceptable", "An Accept the export cannot meet", "an export is text/csv or application/x-ndjson; ask for one in Accept", EXPORT),
    _P(409, "email-already-registered", "The email is taken", "a student with this email is already registered", JSON_BODY),
    _P(409, "idempotency-key-in-flight", "The same key's first request still runs", "a request with this Idempotency-Key is still in progress; retry shortly", IDEMPOTENCY_KEY),
    _P(409, "import-conflict", "Another writer crossed the import", "another writer registered one of the file's emails while this import ran; nothing was imported; run it again to see which", IMPORT),
    _P(412, "stale-version", "If-Match names a version that is no longer current", f"student {EXAMPLE_ID} has changed since the version named in the precondition", IF_MATCH),
    _P(413, "content-too-large", "A body over the limit", "the request body is larger than the 1048576 bytes this service accepts"),
    _P(414, "uri-too-long", "A path or query longer than any this service has", "the request's path or query is longer than this service accepts (2048 and 4096 bytes)", instance="/"),
    _P(415, "unsupported-media-type", "A body of another media type", "text/plain is not accepted here; send application/json", BODY),
    _P(422, "validation-error", "Fields that break the rules", "email: must be a valid email address; cgpa: must be between 0.00 and 10.00",
       errors=(_field("body", "email", "must be a valid email address"), _field("body", "cgpa", "must be between 0.00 and 10.00"))),
    _P(422, "malformed-json", "A body that is not JSON", "the request body is not valid JSON", JSON_BODY, title="Malformed JSON",
       errors=(_field("body", "", "Expecting value"),)),
    _P(422, "invalid-query", "A query the list cannot run", "cursor: was issued for a different sort order", QUERY,
       errors=(_field("query", "cursor", "was issued for a different sort order"),)),
    _P(422, "idempotency-key-reused", "The same key with another body", "this Idempotency-Key was used for a request with a different body", IDEMPOTENCY_KEY),
    _P(422, "import-rejected", "Rows that break the rules: nothing imported", "2 errors in 10,000 rows; nothing was imported", IMPORT,
       errors=(_field("body", "email", "must be a valid email address", 5002), _field("body", "email", "appears twice in the file (first on line 17)", 9000))),
    _P(422, "unreadable-file", "A file that is not CSV or NDJSON as described", "line 1: the file is UTF-16; save it as UTF-8; nothing was imported", IMPORT,
       errors=(_field("body", "file", "the file is UTF-16; save it as UTF-8", 1),)),
    _P(428, "precondition-required", "A write without If-Match", "this request must carry If-Match with the ETag of the student you are changing (or *); GET the student to learn it", IF_MATCH),
    _P(429, "rate-limited", "A spent rate-limit budget", "more than 200 requests in 2 s from this caller; retry in 1 s"),
    _P(500, "internal-error", "A bug: the request id finds it in the log", "the server failed to handle this request"),
    _P(503, "database-unavailable", "The database cannot be reached or did not answer", "the database cannot be reached; retry shortly"),
    _P(503, "database-not-migrated", "The database has no schema", "the database has no schema yet; run `students migrate`"),
    _P(503, "database-read-only", "The database takes no writes", "the database accepts no changes now", READINESS),
    _P(503, "overloaded", "Every connection is busy, or another writer held a lock too long", "the service is at capacity; retry shortly"),
    _P(503, "shutting-down", "The process is draining for a shutdown", "this server process is shutting down"),
)  # fmt: skip
# The slug of an HTTP error no refusal above names (FastAPI's own, with the status it has).
FALLBACK_SLUG = "http-error"


def examples_for(status: int, title: str, instance: str, has: Collection[str]) -> dict[str, dict[str, Any]]:
    """OpenAPI ``examples`` of the problem types a status carries for an operation that ``has``
    these features, at ``instance``."""
    return {
        kind.slug: {"summary": kind.summary, "value": kind.example(title, instance)}
        for kind in PROBLEM_TYPES
        if kind.status == status and (kind.needs is None or kind.needs in has)
    }
