"""What routes read from a request, as shared ``Annotated`` aliases: a route's signature reads
like the request it serves (``caller: Caller``, ``if_match: IfMatch``, ``use_case: Reading``)."""

import re
from typing import Annotated, Any

from dependency_injector import providers
from fastapi import Depends, Request
from fastapi import params as fastapi_params
from fastapi.exceptions import RequestValidationError

from application.idempotency import MAX_KEY_LENGTH
from application.preconditions import Precondition
from infrastructure.auth.tokens import Principal
from interfaces.http.conditional import if_match_on_read, if_match_precondition, if_none_match_header
from interfaces.http.injection import Provided
from interfaces.http.operations import caller_of, documents, refuses
from interfaces.http.problems import HttpProblem

# No "from __future__ import annotations" here: FastAPI reads these markers at run time.

# The token's verified caller (the authentication middleware put it there).
Caller = Annotated[Principal, Depends(caller_of)]
# If-Match as the client sent it, every line of it; the use-case judges it.
IfMatch = Annotated[Precondition, Depends(if_match_precondition)]
# If-Match on a read, if there is one: a GET that names versions is 412 at any other.
IfMatchOnRead = Annotated[Precondition | None, Depends(if_match_on_read)]
# If-None-Match, every line of it, for a conditional GET.
IfNoneMatch = Annotated[str | None, Depends(if_none_match_header)]

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "idempotency-key",
    "in": "header",
    "required": False,
    "description": "Makes retries safe: a retry with the same key and body replays the first answer "
    "(with `Idempotent-Replayed: true`); the same key with another body is 422; a retry while the "
    "first is still running is 409. Keys are kept 24 hours. Spaces and tabs at its ends are not part "
    "of it; more than one is 400.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


@documents(IDEMPOTENCY_KEY_PARAMETER)
@refuses(400, 422)
async def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key, as one value: trimmed of the spaces a field value does not include
    (RFC 9110 5.5), and refused when there are two (which one is meant is a guess)."""
    lines = request.headers.getlist("idempotency-key")
    if not lines:
        return None
    if len(lines) > 1:
        raise HttpProblem(400, "bad-idempotency-key", "the request has more than one Idempotency-Key")
    key = lines[0].strip(" \t")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise RequestValidationError(
            [{"type": "string_length", "loc": ("header", "idempotency-key"),
              "msg": f"must be 1 to {MAX_KEY_LENGTH} characters"}]
        )  # fmt: skip
    return key


# The Idempotency-Key a client may send with a POST.
IdempotencyKeyHeader = Annotated[str | None, Depends(idempotency_key)]

_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def uses(provider: providers.Provider[Any]) -> fastapi_params.Depends:
    """A route parameter made per request by ``provider`` (a provider of interfaces.container)."""
    marker: fastapi_params.Depends = Depends(Provided(provider))
    return marker


def canonical_uuid(value: object) -> object:
    """Python takes a UUID in braces, as a URN or without hyphens; a path names one in one way."""
    if isinstance(value, str) and not _UUID_TEXT.fullmatch(value):
        raise ValueError("must be a UUID such as 01890a5d-ac96-774b-bcce-b302099a8057")
    return value
