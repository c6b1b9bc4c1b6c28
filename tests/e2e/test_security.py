"""Who may do what, as a client sees it: 401, 403, 413, protective headers, CORS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from interfaces.container import Container
from interfaces.http.app import RESOURCES, create_app
from interfaces.http.operations import operations
from interfaces.scopes import ADMIN, READ, WRITE
from tests.support.api import ADA, assert_problem, create
from tests.support.auth import bearer, settings_for_tests, token


# Authentication happens before any storage is touched; two backends show it holds for real ones.
@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


SOME_ID = "01890a5d-ac96-774b-bcce-b302099a8057"
BODY = {"name": "Eve", "email": "eve@example.org", "department": "CS", "cgpa": 5}


def _every_protected_operation() -> list[tuple[str, str, dict[str, Any] | None, str]]:
    """One request of every operation that needs a token: (method, path, body, scope it needs).

    From the app's own routes, so a new operation is covered without a line here. Tokens are
    judged before the body is read, so any body of the right media type will do.
    """
    found = [
        (
            method,
            re.sub(r"\{[^}]+\}", SOME_ID, route.path),
            BODY if route.body_field else None,
            route.scopes[0],
        )
        for resource in RESOURCES
        for route in operations(resource.router.routes)
        if not route.public
        for method in sorted(route.methods or ())
    ]
    assert len(found) >= 6, "the routes of /students are not all found"
    return found


OPERATIONS = _every_protected_operation()
IDS = [f"{method} {path.replace(SOME_ID, '{id}')}" for method, path, _, _ in OPERATIONS]


async def send(
    client: httpx.AsyncClient, method: str, path: str, body: Any, **headers: str
) -> httpx.Response:
    headers = {"if-match": "*", **headers}
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "scope"), OPERATIONS, ids=IDS)
async def test_no_token_is_401_with_a_bearer_challenge(
    anonymous: httpx.AsyncClient, method: str, path: str, body: Any, scope: str
) -> None:
    response = await send(anonymous, method, path, body)
    assert assert_problem(response, 401)["type"] == "/problems/missing-token"
    assert response.headers["www-authenticate"] == 'Bearer realm="students"'


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        ("Bearer not-a-token", "the token is malformed"),
        (f"Bearer {token(READ, WRITE, ttl=timedelta(seconds=-5))}", "the token has expired"),
        (f"Bearer {token(READ, WRITE)}x", "the token's signature does not verify"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
    ],
    ids=["malformed", "expired", "tampered", "basic-scheme", "empty-bearer"],
)
@pytest.mark.parametrize(("method", "path", "body", "scope"), OPERATIONS, ids=IDS)
async def test_a_bad_token_is_401_and_says_why(
    anonymous: httpx.AsyncClient,
    method: str,
    path: str,
    body: Any,
    scope: str,
    credentials: str,
    reason: str | None,
) -> None:
    response = await send(anonymous, method, path, body, authorization=credentials)
    problem = assert_problem(response, 401)
    if reason is None:
        assert response.headers["www-authenticate"] == 'Bearer realm="students"'
    else:
        assert problem["detail"] == reason
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert credentials.removeprefix("Bearer ") not in response.text or credentials == "Bearer"


@pytest.mark.parametrize(("method", "path", "body", "scope"), OPERATIONS, ids=IDS)
async def test_a_token_without_the_scope_is_403_naming_it(
    anonymous: httpx.AsyncClient, method: str, path: str, body: Any, scope: str
) -> None:
    others = [s for s in (READ, WRITE, ADMIN) if s != scope]
    response = await send(anonymous, method, path, body, **bearer(*others))
    problem = assert_problem(response, 403)
    assert problem["type"] == "/problems/insufficient-scope"
    assert scope in problem["detail"]
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="students", error="insufficient_scope", scope="{scope}"'
    )


async def test_a_read_only_token_can_change_nothing(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    student = await create(client)
    path = f"/students/{student['id']}"
    reader = bearer(READ)
    attempts = [
        await anonymous.post("/students", json=BODY, headers=reader),
        await anonymous.put(path, json=BODY, headers={"if-match": "*", **reader}),
        await anonymous.patch(path, json={"cgpa": 1}, headers={"if-match": "*", **reader}),
        await anonymous.delete(path, headers={"if-match": "*", **reader}),
        await anonymous.post(
            "/students", json=BODY, headers={"idempotency-key": "k", "content-type": "text/plain", **reader}
        ),
    ]
    assert [r.status_code for r in attempts] == [403] * 5
    listing = await anonymous.get("/students", headers=reader)
    assert listing.status_code == 200
    assert listing.json()["items"] == [student]


async def test_public_routes_need_no_token(anonymous: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/openapi.json", "/docs", "/redoc", "/metrics"):
        assert (await anonymous.get(path)).status_code == 200, path
    # Ready or not (the in-memory backend has no migrated database), it answers without a token.
    assert (await anonymous.get("/readyz")).status_code in (200, 503)


async def test_unknown_paths_are_not_revealed_without_a_token(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    assert_problem(await anonymous.get("/admin"), 401)
    assert_problem(await client.get("/admin"), 404)


def _big_student(size: int) -> bytes:
    return b'{"name": "' + b"x" * size + b'", "email": "a@example.org", "department": "CS", "cgpa": 1}'


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_body_over_one_mebibyte_is_413_before_anything_happens(
    client: httpx.AsyncClient, method: str
) -> None:
    student = await create(client)
    path = "/students" if method == "POST" else f"/students/{student['id']}"
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    response = await client.request(
        method,
        path,
        content=_big_student(1024 * 1024),
        headers={"content-type": content_type, "if-match": '"1"'},
    )
    problem = assert_problem(response, 413)
    assert problem["type"] == "/problems/content-too-large"
    assert "1048576 bytes" in problem["detail"]
    assert (await client.get("/students")).json()["items"] == [student]


async def test_a_chunked_body_is_cut_off_at_the_limit(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 1
            yield b" " * 65536

    response = await client.post("/students", content=chunks(), headers={"content-type": "application/json"})
    assert assert_problem(response, 413)["type"] == "/problems/content-too-large"
    assert (await client.get("/students")).json()["items"] == []


async def test_a_body_just_under_the_limit_is_read_and_judged(client: httpx.AsyncClient) -> None:
    body = _big_student(1024 * 1024 - 200)
    assert len(body) <= 1024 * 1024
    response = await client.post("/students", content=body, headers={"content-type": "application/json"})
    assert assert_problem(response, 422)["errors"][0]["field"] == "name"


async def test_responses_forbid_sniffing_and_caching_of_personal_data(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    student = await create(client)
    for response in (
        await client.get(f"/students/{student['id']}"),
        await client.get("/students"),
        await anonymous.get("/students"),
        await client.get("/students/not-a-uuid"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    assert (await anonymous.get("/healthz")).headers["x-content-type-options"] == "nosniff"


async def test_cors_is_off_unless_origins_are_configured(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz", headers={"origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
async def cors_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    container.settings.override(providers.Object(settings_for_tests(cors_origins=("https://app.example",))))
    app = create_app(container)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    container.unwire()


async def test_configured_origins_may_call_and_read_the_useful_headers(
    cors_client: httpx.AsyncClient,
) -> None:
    preflight = await cors_client.options(
        "/students",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    created = await cors_client.post(
        "/students", json=ADA, headers={"origin": "https://app.example", **bearer()}
    )
    assert created.status_code == 201
    exposed = {h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location"} <= exposed
    other = await cors_client.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("origin", "method", "headers", "refused"),
    [
        ("https://evil.example", "DELETE", "x-unknown", "origin, headers"),
        ("https://app.example", "GET", "authorization, x-unknown", "headers"),
    ],
)
async def test_a_refused_preflight_is_a_problem_saying_what_was_refused(
    cors_client: httpx.AsyncClient, origin: str, method: str, headers: str, refused: str
) -> None:
    response = await cors_client.options(
        "/students",
        headers={
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": headers,
        },
    )
    problem = assert_problem(response, 400)
    assert problem["type"] == "/problems/cors-refused"
    assert problem["detail"] == f"this cross-origin request is not allowed; refused: {refused}"
    assert response.headers["x-request-id"] == problem["request_id"]
    # Starlette names the origin back only when it is one of the configured ones.
    assert ("access-control-allow-origin" in response.headers) == (origin == "https://app.example")


async def test_idempotency_keys_belong_to_the_caller(anonymous: httpx.AsyncClient) -> None:
    key = {"idempotency-key": "order-1"}
    first = await anonymous.post("/students", json=ADA, headers={**key, **bearer(WRITE, subject="alice")})
    again = await anonymous.post("/students", json=ADA, headers={**key, **bearer(WRITE, subject="alice")})
    other = await anonymous.post(
        "/students", json={**ADA, "email": "bob@example.org"}, headers={**key, **bearer(WRITE, subject="bob")}
    )
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert "idempotent-replayed" not in other.headers
    assert other.json()["id"] != first.json()["id"]


async def test_two_authorization_headers_are_refused(anonymous: httpx.AsyncClient) -> None:
    headers = [("authorization", f"Bearer {token(READ)}"), ("authorization", f"Bearer {token(READ, WRITE)}")]
    response = await anonymous.get("/students", headers=headers)
    assert assert_problem(response, 401)["detail"] == "more than one Authorization header"
