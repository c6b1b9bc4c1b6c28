"""POST /students/import and GET /students/export, end to end through the app, on every backend."""

from __future__ import annotations

import csv
import gzip
import io

import httpx
import orjson
import pytest

from tests.support.api import assert_problem, count, create
from tests.support.auth import bearer

CSV_TYPE = {"Content-Type": "text/csv"}
NDJSON_TYPE = {"Content-Type": "application/x-ndjson"}
FILE = (
    "name,email,department,cgpa\r\n"
    "Ada Lovelace,ada@example.org,cs,9.5\r\n"
    '"Hopper, Grace",grace@example.org,MATH,8\r\n'
)


async def test_an_import_registers_every_row_and_an_export_gives_them_back(client: httpx.AsyncClient) -> None:
    response = await client.post("/students/import", content=FILE, headers=CSV_TYPE)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "imported": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "rows": 2,
        "dry_run": False,
    }
    assert await count(client) == 2

    exported = await client.get("/students/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["name"], r["email"], r["department"], r["cgpa"]) for r in rows] == [
        ("Ada Lovelace", "ada@example.org", "CS", "9.50"),
        ("Hopper, Grace", "grace@example.org", "MATH", "8.00"),
    ]
    ndjson = await client.get("/students/export", headers={"Accept": "application/x-ndjson"})
    documents = [orjson.loads(line) for line in ndjson.content.splitlines()]
    assert [d["email"] for d in documents] == ["ada@example.org", "grace@example.org"]
    # The export imports as it is: with on_conflict=update, nothing changes.
    again = await client.post(
        "/students/import?on_conflict=update", content=ndjson.content, headers=NDJSON_TYPE
    )
    assert again.json()["unchanged"] == 2


async def test_a_bad_row_is_a_422_naming_its_line_and_nothing_is_imported(client: httpx.AsyncClient) -> None:
    await create(client, email="taken@example.org")
    body = FILE + "Bad,not-an-email,CS,7\r\nTaken,taken@example.org,CS,7\r\n"
    response = await client.post("/students/import", content=body, headers=CSV_TYPE)
    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/import-rejected"
    assert problem["errors"] == [
        {"location": "body", "field": "email", "message": "must be a valid email address", "line": 4},
        {"location": "body", "field": "email", "message": "is already registered", "line": 5},
    ]
    assert await count(client) == 1


async def test_an_unreadable_file_is_a_422_saying_why(client: httpx.AsyncClient) -> None:
    response = await client.post("/students/import", content="nick,email\r\nx,y\r\n", headers=CSV_TYPE)
    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/unreadable-file"
    assert problem["errors"][0]["line"] == 1


async def test_a_dry_run_writes_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post("/students/import?dry_run=true", content=FILE, headers=CSV_TYPE)
    assert response.json()["created"] == 2
    assert response.json()["dry_run"] is True
    assert await count(client) == 0


async def test_an_idempotency_key_replays_the_first_import(client: httpx.AsyncClient) -> None:
    headers = {**CSV_TYPE, "Idempotency-Key": "intake-2026"}
    first = await client.post("/students/import", content=FILE, headers=headers)
    second = await client.post("/students/import", content=FILE, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await count(client) == 2
    other = await client.post("/students/import", content=FILE.replace("9.5", "9.6"), headers=headers)
    assert_problem(other, 422)


async def test_import_and_export_need_the_admin_scope(anonymous: httpx.AsyncClient) -> None:
    writer = bearer("students:read", "students:write")
    response = await anonymous.post("/students/import", content=FILE, headers={**CSV_TYPE, **writer})
    assert_problem(response, 403)
    assert_problem(await anonymous.get("/students/export", headers=writer), 403)


async def test_other_media_types_and_methods_are_refused(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/students/import", content=FILE, headers={"Content-Type": "application/json"}), 415
    )
    latin = {"Content-Type": "text/csv; charset=latin-1"}
    assert_problem(await client.post("/students/import", content=FILE, headers=latin), 415)
    assert_problem(await client.get("/students/export", headers={"Accept": "application/json"}), 406)
    refused = await client.put("/students/import", content="{}", headers={"Content-Type": "application/json"})
    assert_problem(refused, 405)
    assert refused.headers["Allow"] == "POST"


async def test_a_body_the_import_cannot_read_as_it_is_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    # Found by attack: a gzipped file was read as its compressed bytes (422 "unknown column"), a
    # second Content-Type was ignored, and a 415 repeated a Content-Type of any length.
    coded = {**CSV_TYPE, "Content-Encoding": "gzip"}
    gzipped = await client.post("/students/import", content=gzip.compress(FILE.encode()), headers=coded)
    problem = assert_problem(gzipped, 415)
    assert problem["detail"].startswith("a body in Content-Encoding gzip is not accepted here")
    assert gzipped.headers["Accept-Encoding"] == "identity"
    two = [("Content-Type", "text/csv"), ("Content-Type", "application/x-ndjson")]
    assert (
        "2 Content-Type headers"
        in assert_problem(await client.post("/students/import", content=FILE, headers=two), 415)["detail"]
    )
    long = {"Content-Type": "text/" + "a" * 20_000}
    assert (
        len(assert_problem(await client.post("/students/import", content=FILE, headers=long), 415)["detail"])
        < 200
    )
    plain = await client.post(
        "/students/import", content=FILE, headers={**CSV_TYPE, "Content-Encoding": "identity"}
    )
    assert plain.status_code == 200
    assert await count(client) == 2
    posted = await client.post(
        "/students",
        content=gzip.compress(b"{}"),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert_problem(posted, 415)


async def test_a_member_name_no_json_can_carry_is_escaped_not_a_500(client: httpx.AsyncClient) -> None:
    body = b'{"name":"S","email":"s@example.org","department":"CS","cgpa":8,"\\ud800":1}\n'
    problem = assert_problem(await client.post("/students/import", content=body, headers=NDJSON_TYPE), 422)
    assert problem["errors"][0]["field"] == "'\\ud800'"


async def test_content_type_parameters_other_than_charset_change_nothing(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "text/csv; charset=utf-8; header=present"}
    response = await client.post("/students/import?dry_run=true", content=FILE, headers=headers)
    assert response.status_code == 200, response.text


async def test_an_export_follows_the_weights_of_accept(client: httpx.AsyncClient) -> None:
    await client.post("/students/import", content=FILE, headers=CSV_TYPE)
    chosen = await client.get("/students/export", headers={"Accept": "application/x-ndjson;q=0.1, text/csv"})
    assert chosen.headers["content-type"].startswith("text/csv")
    chosen = await client.get("/students/export", headers={"Accept": "text/csv;q=0.2, application/x-ndjson"})
    assert chosen.headers["content-type"].startswith("application/x-ndjson")
    assert_problem(await client.get("/students/export", headers={"Accept": "text/csv;q=0"}), 406)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        # Found by attack: the first range naming a type decided, a later higher weight unseen.
        ("text/csv;q=0, text/csv;q=1", "text/csv"),
        ("text/csv;q=0.5, application/x-ndjson;q=0.2, application/x-ndjson;q=0.9", "application/x-ndjson"),
        # Not a qvalue, or two of them: the range is refused.
        ("text/csv;q=inf, application/x-ndjson;q=0.1", "application/x-ndjson"),
        ("application/x-ndjson;q=0.5;q=0.1, text/csv;q=0.2", "text/csv"),
        ("application/x-ndjson;q=1.000, text/csv;q=0.999", "application/x-ndjson"),
        ("text/csv;q=1e0, application/x-ndjson;q=nan", None),
        # An export is UTF-8; a range asking for another charset is not met.
        ("text/csv;charset=latin-1", None),
        ("text/csv;charset=latin-1, application/x-ndjson;q=0.1", "application/x-ndjson"),
        ('text/csv;charset="UTF-8"', "text/csv"),
    ],
)
async def test_an_export_reads_accept_weights_as_rfc_9110_writes_them(
    client: httpx.AsyncClient, accept: str, chosen: str | None
) -> None:
    response = await client.get("/students/export", headers={"Accept": accept})
    if chosen is None:
        assert_problem(response, 406)
    else:
        assert response.headers["content-type"].startswith(chosen)


async def test_a_dry_run_never_replays_a_key(client: httpx.AsyncClient) -> None:
    headers = {**CSV_TYPE, "Idempotency-Key": "intake-2027"}
    assert (await client.post("/students/import", content=FILE, headers=headers)).status_code == 200
    dry = await client.post("/students/import?dry_run=true&on_conflict=update", content=FILE, headers=headers)
    assert dry.json()["dry_run"] is True
    assert dry.json()["unchanged"] == 2
    assert "Idempotent-Replayed" not in dry.headers


def test_the_names_no_student_id_may_take_are_the_bulk_routes() -> None:
    from interfaces.http import bulk, students
    from interfaces.http.operations import operations

    assert {route.path.rsplit("/", 1)[1] for route in operations(bulk.router.routes)} == set(students.NOT_IDS)
