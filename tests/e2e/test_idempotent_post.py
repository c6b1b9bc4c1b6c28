"""Idempotency-Key on POST /students, through HTTP on every backend."""

from __future__ import annotations

import httpx

from tests.e2e.test_students_api import ADA, assert_problem, count


async def post(client: httpx.AsyncClient, key: str | None, **overrides: object) -> httpx.Response:
    headers = {"idempotency-key": key} if key is not None else {}
    return await client.post("/students", json={**ADA, **overrides}, headers=headers)


async def test_retry_with_same_key_replays_the_first_answer(client: httpx.AsyncClient) -> None:
    first = await post(client, "order-42")
    retry = await post(client, "order-42")
    assert first.status_code == retry.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert await count(client) == 1


async def test_same_key_with_another_body_is_422(client: httpx.AsyncClient) -> None:
    await post(client, "order-42")
    response = await post(client, "order-42", name="Someone Else")
    assert assert_problem(response, 422)["type"] == "/problems/idempotency-key-reused"
    assert await count(client) == 1


async def test_different_keys_are_different_requests(client: httpx.AsyncClient) -> None:
    assert (await post(client, "one", email="one@example.org")).status_code == 201
    assert (await post(client, "two", email="two@example.org")).status_code == 201
    assert await count(client) == 2


async def test_a_failed_attempt_can_be_retried_with_its_key(client: httpx.AsyncClient) -> None:
    taken = (await post(client, None)).json()
    assert_problem(await post(client, "retry-me"), 409)
    await client.delete(f"/students/{taken['id']}", headers={"if-match": '"1"'})
    response = await post(client, "retry-me")
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers


async def test_overlong_or_empty_key_is_422(client: httpx.AsyncClient) -> None:
    assert_problem(await post(client, "k" * 256), 422)
    assert_problem(await post(client, ""), 422)
    assert await count(client) == 0
