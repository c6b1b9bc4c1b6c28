"""The problem examples in the OpenAPI document are what the server really answers.

Each case provokes one problem type and compares the answer with the catalogue's example
(interfaces/http/problem_types.py): the same title, detail and errors, the student's id aside.
Found by an attack: several examples were worded otherwise than the real answers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from interfaces.http.problem_types import EXAMPLE_ID, PROBLEM_TYPES
from interfaces.http.problems import TITLES
from tests.support.api import ADA
from tests.support.app_fixtures import in_memory_client
from tests.support.auth import SECRET, bearer

Provoke = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
AUTH = bearer()


async def _created(client: httpx.AsyncClient) -> str:
    answer = await client.post("/students", json=ADA, headers=AUTH)
    return str(answer.json()["id"])


async def _stale(client: httpx.AsyncClient) -> httpx.Response:
    student = await _created(client)
    return await client.patch(f"/students/{student}", json={"cgpa": 9}, headers={**AUTH, "if-match": '"7"'})


async def _without_if_match(client: httpx.AsyncClient) -> httpx.Response:
    return await client.put(f"/students/{await _created(client)}", json=ADA, headers=AUTH)


async def _bad_if_match(client: httpx.AsyncClient) -> httpx.Response:
    return await client.put(
        f"/students/{await _created(client)}", json=ADA, headers={**AUTH, "if-match": "seven"}
    )


async def _taken(client: httpx.AsyncClient) -> httpx.Response:
    await _created(client)
    return await client.post("/students", json=ADA, headers=AUTH)


async def _reused_key(client: httpx.AsyncClient) -> httpx.Response:
    key = {**AUTH, "idempotency-key": "k-1"}
    await client.post("/students", json=ADA, headers=key)
    return await client.post("/students", json={**ADA, "email": "grace@example.org"}, headers=key)


async def _other_sort(client: httpx.AsyncClient) -> httpx.Response:
    await _created(client)
    await client.post("/students", json={**ADA, "email": "grace@example.org"}, headers=AUTH)
    cursor = (await client.get("/students", params={"limit": 1}, headers=AUTH)).json()["next_cursor"]
    return await client.get("/students", params={"sort": "name", "cursor": cursor}, headers=AUTH)


def _expired() -> dict[str, str]:
    past = datetime.now(UTC) - timedelta(hours=2)
    claims = {"sub": "tester", "scope": "students:read", "iat": past, "exp": past + timedelta(hours=1)}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


CASES: dict[str, Provoke] = {
    "missing-token": lambda c: c.get("/students"),
    "invalid-token": lambda c: c.get("/students", headers=_expired()),
    "insufficient-scope": lambda c: c.post("/students", json=ADA, headers=bearer("students:read")),
    "student-not-found": lambda c: c.get(f"/students/{EXAMPLE_ID}", headers=AUTH),
    "not-found": lambda c: c.get("/student", headers=AUTH),
    "method-not-allowed": lambda c: c.request("TRACE", "/students", headers=AUTH),
    "host-not-allowed": lambda c: c.get("/students", headers={**AUTH, "host": "evil.example"}),
    "bad-idempotency-key": lambda c: c.post(
        "/students", json=ADA, headers=[*AUTH.items(), ("idempotency-key", "a"), ("idempotency-key", "b")]
    ),
    "bad-if-none-match": lambda c: c.get(
        f"/students/{EXAMPLE_ID}", headers={**AUTH, "if-none-match": '"1"' * 200}
    ),
    "bad-if-match": _bad_if_match,
    "precondition-required": _without_if_match,
    "stale-version": _stale,
    "email-already-registered": _taken,
    "idempotency-key-reused": _reused_key,
    "invalid-query": _other_sort,
    "malformed-json": lambda c: c.post(
        "/students", content=b"nope", headers={**AUTH, "content-type": "application/json"}
    ),
    "unsupported-media-type": lambda c: c.post(
        "/students", content=b"x", headers={**AUTH, "content-type": "text/plain"}
    ),
    "validation-error": lambda c: c.post(
        "/students", json={**ADA, "email": "nope", "cgpa": 11}, headers=AUTH
    ),
    "content-too-large": lambda c: c.post("/students", content=b"x" * (1024 * 1024 + 1), headers=AUTH),
    "uri-too-long": lambda c: c.get("/students/" + "a" * 3000, headers=AUTH),
    "not-acceptable": lambda c: c.get("/students/export", headers={**AUTH, "accept": "image/png"}),
    "unreadable-file": lambda c: c.post(
        "/students/import", content="name\n".encode("utf-16"), headers={**AUTH, "content-type": "text/csv"}
    ),
}
EXAMPLES = {kind.slug: kind for kind in PROBLEM_TYPES}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.mark.parametrize("slug", sorted(CASES))
async def test_the_example_is_the_answer(slug: str) -> None:
    kind = EXAMPLES[slug]
    async with in_memory_client() as client:
        answer = await CASES[slug](client)
    body: dict[str, Any] = answer.json()
    assert (answer.status_code, body["type"]) == (kind.status, f"/problems/{slug}"), body
    example = kind.example(TITLES.get(kind.status, "Error"), body["instance"])
    last = body["instance"].rsplit("/", 1)[-1]
    detail = body["detail"].replace(last, EXAMPLE_ID) if _UUID.fullmatch(last) else body["detail"]
    assert body["title"] == example["title"]
    assert detail == example["detail"]
    assert body.get("errors", []) == example.get("errors", [])
