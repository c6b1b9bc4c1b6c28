"""ETag, If-None-Match, If-Match: optimistic concurrency as a client sees it, on every backend."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from sqlalchemy.ext.asyncio import AsyncEngine

from application.events import EventBus
from domain.events import DomainEvent
from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from interfaces.container import Container
from tests.support.api import assert_problem, create


async def test_every_student_response_carries_its_etag(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/students", json={"name": "A", "email": "a@example.org", "department": "CS", "cgpa": 7}
    )
    student = created.json()
    assert created.headers["etag"] == '"1"'
    assert (await client.get(f"/students/{student['id']}")).headers["etag"] == '"1"'
    patched = await client.patch(f"/students/{student['id']}", json={"cgpa": 8}, headers={"if-match": '"1"'})
    assert patched.headers["etag"] == '"2"'


@pytest.mark.parametrize("tag", ['"1"', 'W/"1"', '"7", "1"', "*"])
async def test_if_none_match_with_current_tag_is_304(client: httpx.AsyncClient, tag: str) -> None:
    student = await create(client)
    response = await client.get(f"/students/{student['id']}", headers={"if-none-match": tag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == '"1"'


async def test_if_none_match_with_old_tag_is_200(client: httpx.AsyncClient) -> None:
    student = await create(client)
    await client.patch(f"/students/{student['id']}", json={"name": "New"}, headers={"if-match": '"1"'})
    response = await client.get(f"/students/{student['id']}", headers={"if-none-match": '"1"'})
    assert response.status_code == 200
    assert response.json()["name"] == "New"


WRITES: dict[str, dict[str, Any] | None] = {
    "PUT": {"name": "X", "email": "x@example.org", "department": "EE", "cgpa": 1},
    "PATCH": {"name": "X"},
    "DELETE": None,
}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_write_without_if_match_is_428_and_changes_nothing(
    client: httpx.AsyncClient, method: str
) -> None:
    student = await create(client)
    body = WRITES[method]
    response = await client.request(method, f"/students/{student['id']}", json=body)
    assert assert_problem(response, 428)["type"] == "/problems/precondition-required"
    assert (await client.get(f"/students/{student['id']}")).json() == student


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("tag", ['"2"', 'W/"1"', '"abc"'])
async def test_write_with_stale_tag_is_412_and_changes_nothing(
    client: httpx.AsyncClient, method: str, tag: str
) -> None:
    student = await create(client)
    body = WRITES[method]
    response = await client.request(
        method, f"/students/{student['id']}", json=body, headers={"if-match": tag}
    )
    assert assert_problem(response, 412)["type"] == "/problems/stale-version"
    assert (await client.get(f"/students/{student['id']}")).json() == student


async def test_a_second_writer_with_the_same_tag_loses(client: httpx.AsyncClient) -> None:
    student = await create(client)
    first = await client.patch(
        f"/students/{student['id']}", json={"name": "First"}, headers={"if-match": '"1"'}
    )
    second = await client.patch(
        f"/students/{student['id']}", json={"name": "Second"}, headers={"if-match": '"1"'}
    )
    assert first.status_code == 200
    assert_problem(second, 412)
    assert (await client.get(f"/students/{student['id']}")).json()["name"] == "First"


async def test_if_match_star_writes_whatever_the_version(client: httpx.AsyncClient) -> None:
    student = await create(client)
    response = await client.patch(
        f"/students/{student['id']}", json={"name": "Any"}, headers={"if-match": "*"}
    )
    assert response.status_code == 200


async def test_if_match_with_a_list_of_tags_matches_any_of_them(client: httpx.AsyncClient) -> None:
    student = await create(client)
    response = await client.patch(
        f"/students/{student['id']}", json={"name": "Any"}, headers={"if-match": '"7", W/"2", "1"'}
    )
    assert response.status_code == 200
    stale = await client.patch(
        f"/students/{student['id']}", json={"name": "Again"}, headers={"if-match": '"1", W/"2"'}
    )
    assert assert_problem(stale, 412)["type"] == "/problems/stale-version"


async def test_if_match_on_several_lines_is_one_list(client: httpx.AsyncClient) -> None:
    # Found in review: of two If-Match lines only the first was judged.
    student = await create(client)
    lines = [("if-match", '"5"'), ("if-match", '"1"')]
    response = await client.patch(f"/students/{student['id']}", json={"name": "Any"}, headers=lines)
    assert response.status_code == 200
    stale = [("if-match", '"2"'), ("if-match", '"1"')]
    assert (
        await client.patch(f"/students/{student['id']}", json={"name": "X"}, headers=stale)
    ).status_code == 200
    gone = [("if-match", '"1"'), ("if-match", '"2"')]
    assert_problem(await client.patch(f"/students/{student['id']}", json={"name": "Y"}, headers=gone), 412)


@pytest.mark.parametrize("tag", ['"01"', '"+1"', '"1.0"', '"0x1"', '"1e0"'])
async def test_if_match_compares_tags_as_octets(client: httpx.AsyncClient, tag: str) -> None:
    # Found in review: If-Match "01" matched ETag "1" (tags compared as numbers).
    student = await create(client)
    response = await client.patch(f"/students/{student['id']}", json={"name": "X"}, headers={"if-match": tag})
    assert assert_problem(response, 412)["type"] == "/problems/stale-version"
    assert (await client.get(f"/students/{student['id']}")).json() == student


@pytest.mark.parametrize("value", ["1", '"1', '*, "1"', "W/1", '"1" "2"', "*, *", '"1 "', '" 1"', ""])
async def test_an_if_match_that_is_not_a_list_of_tags_is_400(client: httpx.AsyncClient, value: str) -> None:
    student = await create(client)
    response = await client.patch(
        f"/students/{student['id']}", json={"name": "X"}, headers={"if-match": value}
    )
    assert assert_problem(response, 400)["type"] == "/problems/bad-if-match"


async def test_if_none_match_on_several_lines_is_one_list(client: httpx.AsyncClient) -> None:
    student = await create(client)
    lines = [("if-none-match", '"5"'), ("if-none-match", 'W/"1"')]
    response = await client.get(f"/students/{student['id']}", headers=lines)
    assert response.status_code == 304


async def test_missing_student_is_404_even_with_if_match(client: httpx.AsyncClient) -> None:
    response = await client.delete(
        "/students/01a20376-32e4-73a0-b31a-8898a30fe5b8", headers={"if-match": '"1"'}
    )
    assert_problem(response, 404)


# On PostgreSQL, where 50 writers really race over a pool of connections.
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_fifty_concurrent_patches_with_one_tag_give_one_winner(client: httpx.AsyncClient) -> None:
    student = await create(client)

    async def patch(i: int) -> int:
        response = await client.patch(
            f"/students/{student['id']}", json={"name": f"Writer {i}"}, headers={"if-match": '"1"'}
        )
        return response.status_code

    statuses = await asyncio.gather(*(patch(i) for i in range(50)))
    assert sorted(statuses) == [200] + [412] * 49
    final = (await client.get(f"/students/{student['id']}")).json()
    assert final["version"] == 2


class ReadThenWait(SqlAlchemyUnitOfWork):
    """Every writer loads the student, then waits until all have, and only then writes."""

    barrier: asyncio.Barrier

    async def _begin(self) -> None:
        await super()._begin()
        write, read = self.students.update, self.students.get

        async def read_without_lock(student_id: Any, *, lock: bool = False) -> Any:
            # Writers lock what they read, so they could never all hold version 1 at once: this
            # takes the lock away, to show the UPDATE's own version check holds without it.
            return await read(student_id)

        async def update_once_everyone_has_read(student: Any, *, expected_version: int) -> None:
            await self.barrier.wait()
            await write(student, expected_version=expected_version)

        self.students.update = update_once_everyone_has_read  # type: ignore[method-assign]
        self.students.get = read_without_lock  # type: ignore[method-assign]


# Ten transactions that have all read version 1 write at once: only the database's conditional
# UPDATE can tell them apart (SQLite's writers queue at BEGIN, so they cannot race this way).
@pytest.mark.parametrize("backend", ["postgres", "mariadb"], indirect=True)
async def test_writers_that_all_read_the_same_version_give_one_winner(
    client: httpx.AsyncClient, container: Container, engine: AsyncEngine
) -> None:
    student = await create(client)
    ReadThenWait.barrier = asyncio.Barrier(10)
    container.unit_of_work.override(providers.Factory(ReadThenWait, database=container.database))

    async def patch(i: int) -> int:
        response = await client.patch(
            f"/students/{student['id']}", json={"name": f"Writer {i}"}, headers={"if-match": '"1"'}
        )
        return response.status_code

    statuses = await asyncio.wait_for(asyncio.gather(*(patch(i) for i in range(10))), timeout=30)
    assert sorted(statuses) == [200] + [412] * 9
    assert (await client.get(f"/students/{student['id']}")).json()["version"] == 2


async def _slow_handler(event: DomainEvent) -> None:
    await asyncio.sleep(0.01)


async def test_concurrent_star_patches_all_succeed_behind_a_slow_event_handler(
    client: httpx.AsyncClient, container: Container
) -> None:
    # Found by attack: on the in-memory backend, writers queued behind one whose handlers were
    # still running were judged on an old snapshot and answered 412.
    container.event_bus.override(providers.Singleton(EventBus, handlers=[_slow_handler]))
    student = await create(client)
    responses = await asyncio.gather(
        *(
            client.patch(f"/students/{student['id']}", json={"cgpa": i}, headers={"if-match": "*"})
            for i in range(4)
        )
    )
    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["version"] for r in responses) == [2, 3, 4, 5]
