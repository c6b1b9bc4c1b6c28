"""Rate limits (OWASP API4): 429 problem+json once a budget is spent, with when to come back.

Two of these wrap the app (app.py). Outside authentication, every request spends from its client
address's budget, so that requests nobody can authenticate (a guessed token, a flood) are held
back before any work is done for them. Inside it, an authenticated request spends from its
caller's budget (the token's subject), whatever address it comes from, and a request to a
public path (health, docs) from its address's. The budgets are infrastructure/rate_limits.py's.

Every answer carries the IETF ``RateLimit-Policy`` and ``RateLimit`` fields
(draft-ietf-httpapi-ratelimit-headers), one item per budget it spent, so that a client can pace
itself before it is refused: the policy's quota ``q`` and window ``w`` in seconds, what is left
``r`` and in how many seconds the budget is whole again ``t``. A refusal adds ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from application.wording import counted
from infrastructure.auth.tokens import Principal
from infrastructure.rate_limits import Budget, Verdict
from interfaces.http.operations import PRINCIPAL_KEY
from interfaces.http.problems import problem_response
from interfaces.http.root_path import route_path

# Where the fields for the answer wait in the scope: a list of (name, value) header pairs.
RATE_LIMIT_FIELDS = "students.rate_limit_fields"


def address_of(scope: Scope) -> str:
    client = scope.get("client")
    return f"address:{client[0]}" if client else "address:unknown"


def caller_of(scope: Scope) -> str:
    principal = scope.get(PRINCIPAL_KEY)
    return f"caller:{principal.subject}" if isinstance(principal, Principal) else address_of(scope)


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        budget: Budget,
        key: Callable[[Scope], str],
        exempt_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self._budget = budget
        self._key = key
        # Probes and scrapers (/healthz, /readyz, /metrics): a flood must not fail an orchestrator's check.
        self._exempt = exempt_paths
        self._policy = (b"ratelimit-policy", f'"{budget.name}";q={budget.limit};w={budget.window}'.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in self._exempt:
            await self.app(scope, receive, send)
            return
        verdict = await self._budget.take(self._key(scope))
        # Sent with the answer, whoever gives it, by ProtectiveHeaders (security.py), which wraps
        # send already: a wrapper here too would cost two more calls per message and budget.
        remaining = (b"ratelimit", f'"{self._budget.name}";r={verdict.remaining};t={verdict.reset}'.encode())
        fields = scope.get(RATE_LIMIT_FIELDS)
        if fields is None:
            scope[RATE_LIMIT_FIELDS] = [self._policy, remaining]
        else:
            fields += (self._policy, remaining)
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, receive, send, verdict)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, verdict: Verdict) -> None:
        name = self._budget.name
        detail = (
            f"more than {counted(verdict.limit, 'request')} in {verdict.window} s from this "
            f"{'caller' if name == 'caller' else 'address'}; retry in {verdict.retry_after} s"
        )
        headers = {"Retry-After": str(verdict.retry_after)}
        response = problem_response(scope["path"], 429, "rate-limited", detail, headers=headers)
        await response(scope, receive, send)
