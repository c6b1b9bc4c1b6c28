"""Idempotency-Key on POST /students, through HTTP on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from dependency_injector import providers

from application.ports import UnitOfWork
from interfaces.container import Container
from tests.support.api import ADA, assert_problem, count


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


async def test_a_retry_while_the_first_is_still_running_is_409(
    client: httpx.AsyncClient, container: Container, uow_factory: Callable[[], UnitOfWork]
) -> None:
    # Hold the first request after it has claimed its key and before it registers the student:
    # its unit of work is entered twice (claim, then the registration), the second time waits.
    reached, release = asyncio.Event(), asyncio.Event()
    units: list[UnitOfWork] = []

    def unit_of_work() -> UnitOfWork:
        uow = uow_factory()
        if not units:
            begin, entered = uow._begin, 0

            async def begin_then_wait_the_second_time() -> None:
                nonlocal entered
                entered += 1
                if entered == 2:
                    reached.set()
                    await release.wait()
                await begin()

            uow._begin = begin_then_wait_the_second_time  # type: ignore[method-assign]
        units.append(uow)
        return uow

    container.unit_of_work.override(providers.Factory(unit_of_work))
    first = asyncio.create_task(post(client, "slow-order"))
    await asyncio.wait_for(reached.wait(), timeout=10)

    retry = await post(client, "slow-order")
    problem = assert_problem(retry, 409)
    assert problem["type"] == "/problems/idempotency-key-in-flight"
    assert retry.headers["retry-after"] == "1"

    release.set()
    assert (await first).status_code == 201
    replay = await post(client, "slow-order")
    assert replay.headers["idempotent-replayed"] == "true"
    assert await count(client) == 1
