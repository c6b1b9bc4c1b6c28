"""The routes of one student skip FastAPI's per-request set-up (operations.py: ``_direct`` for GET
and DELETE, ``_direct_with_body`` for PUT and PATCH): whatever the body, the path and the
preconditions, they answer exactly what FastAPI's own handler answers.

Two apps on stores of their own, with the same ids and the same clock, see the same requests: one
as served, one with the direct path turned off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from fastapi import FastAPI
from fastapi.routing import request_response

from infrastructure.memory.store import InMemoryDatabase
from infrastructure.memory.unit_of_work import InMemoryUnitOfWork
from interfaces.container import Container
from interfaces.http import operations as operations_module
from interfaces.http.app import create_app
from interfaces.http.operations import operations
from tests.support.auth import bearer, settings_for_tests
from tests.support.fakes import FixedClock, SequentialIds

ADA = {"name": "Ada Lovelace", "email": "ada@example.edu", "department": "CS", "cgpa": 9.5}
BODIES = [
    b"",
    b'{"name": ',
    b"[]",
    b"null",
    b'"Ada"',
    b"1",
    b"{}",
    b'{"cgpa": "abc"}',
    b'{"cgpa": 9.999}',
    b'{"unknown": 1}',
    b'{"name": null}',
    b'{"name": "   ", "cgpa": -1, "email": "nope"}',
    b'{"name": "A", "cgpa": ' + b"9" * 5000 + b"}",
    b"[" * 5000 + b"]" * 5000,
    b'{"name": "\xc8\x97\xff"}',
    b'{"cgpa": 1e999999999}',
    b'{"cgpa": 7.25}',
    b'{"cgpa": 7.25, "cgpa": 8}',
    b'{"name": "Grace Hopper", "email": "grace@example.edu", "department": "MATH", "cgpa": 8}',
    b'{"name": "Ada Lovelace", "email": "ada@example.edu", "department": "CS", "cgpa": 9.5}',
]
TARGETS = ["{id}", "not-a-uuid", "01a20376-32e4-73a0-b31a-8898a30fe5b8"]
PRECONDITIONS: list[dict[str, str]] = [{"if-match": "*"}, {}, {"if-match": '"1"'}, {"if-match": '"x'}]


def _container() -> Container:
    container = Container()
    container.settings.override(providers.Object(settings_for_tests(database_url="sqlite+aiosqlite://")))
    container.clock.override(providers.Object(FixedClock()))
    container.ids.override(providers.Object(SequentialIds()))
    memory = providers.Factory(InMemoryUnitOfWork, database=InMemoryDatabase(), event_bus=container.event_bus)
    container.unit_of_work.override(memory)
    container.read_only_unit_of_work.override(memory)
    return container


@asynccontextmanager
async def _client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=bearer()
    ) as client:
        yield client


def _answer(response: httpx.Response) -> tuple[int, str | None, str | None, Any]:
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body.pop("request_id", None)  # each request's own
    return response.status_code, response.headers.get("content-type"), response.headers.get("etag"), body


async def _answers(app: FastAPI, method: str) -> list[Any]:
    """What the app, on a fresh store, answers to every case, in order, and its student at the end."""
    answers: list[Any] = []
    bodies: list[bytes | None] = list(BODIES) if method in ("PUT", "PATCH") else [None]
    async with _client_of(app) as client:
        created = await client.post("/students", json=ADA)
        answers.append(_answer(created))
        student_id = created.json()["id"]
        for body in bodies:
            for target in TARGETS:
                for preconditions in PRECONDITIONS:
                    path = "/students/" + target.format(id=student_id)
                    headers = {"content-type": "application/json", **preconditions}
                    response = await client.request(method, path, content=body, headers=headers)
                    answers.append(((body and body[:60], target, preconditions), _answer(response)))
        answers.append(_answer(await client.get(f"/students/{student_id}")))
    return answers


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_every_request_is_answered_as_fastapi_answers_it(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = await _answers(create_app(_container()), method)
    app = create_app(_container())
    route = next(
        route
        for route in operations(app.routes)
        if route.path == "/students/{student_id:student_id}" and method in (route.methods or ())
    )
    with monkeypatch.context() as patched:
        # The route as FastAPI's own handler serves it (routes are built once, at import).
        patched.setattr(operations_module, "_only_path_parameters", lambda *_, **__: False)
        patched.setattr(route, "app", request_response(route.get_route_handler()))
        fastapi = await _answers(app, method)
    for mine, theirs in zip(direct, fastapi, strict=True):
        assert mine == theirs
    # The cases reach every kind of answer: done, not found, refused by rule or precondition.
    expected = {200, 400, 404, 412, 422, 428} if method in ("PUT", "PATCH") else {404, 422}
    assert expected <= {answer[1][0] for answer in direct[1:-1]}


def test_put_and_patch_take_the_direct_path() -> None:
    app = create_app(_container())
    kinds = {
        method: route.get_route_handler().__qualname__
        for route in operations(app.routes)
        for method in route.methods or ()
        if route.path == "/students/{student_id:student_id}"
    }
    assert kinds["PUT"] == kinds["PATCH"] == "Operation._direct_with_body.<locals>.direct"
    assert kinds["GET"] == kinds["DELETE"] == "Operation._direct.<locals>.direct"


async def test_a_chunked_body_over_the_limit_is_413_on_patch() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b" " * 65536

    async with _client_of(create_app(_container())) as client:
        student = (await client.post("/students", json=ADA)).json()
        response = await client.patch(
            f"/students/{student['id']}",
            content=chunks(),
            headers={"content-type": "application/merge-patch+json", "if-match": "*"},
        )
        assert response.status_code == 413
        assert response.json()["type"] == "/problems/content-too-large"
        assert (await client.get(f"/students/{student['id']}")).json() == student
