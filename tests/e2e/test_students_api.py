"""The REST contract of /students on every backend: statuses, bodies, problem documents."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import httpx
import pytest

from tests.support.api import ADA, assert_problem, count, create, current


async def test_create_then_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/students", json=ADA)
    assert response.status_code == 201
    body = response.json()
    # A relative reference: never built from the Host the client sent (PUBLIC_BASE_URL unset).
    assert response.headers["location"] == f"/students/{body['id']}"
    assert body | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "department": "CS",
        "cgpa": 8.5,
        "created_at": None,
        "updated_at": None,
        "version": 1,
    }
    fetched = await client.get(f"/students/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_cgpa_accepts_string_and_keeps_two_decimals(client: httpx.AsyncClient) -> None:
    body = await create(client, cgpa="7.25")
    assert body["cgpa"] == 7.25


async def test_duplicate_email_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    await create(client)
    body = assert_problem(await client.post("/students", json={**ADA, "email": "ADA@example.org"}), 409)
    assert body["type"] == "/problems/email-already-registered"
    assert await count(client) == 1


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({**ADA, "cgpa": 8.555}, {"cgpa"}),
        ({**ADA, "cgpa": 10.5}, {"cgpa"}),
        ({**ADA, "name": "  "}, {"name"}),
        ({**ADA, "email": "nope"}, {"email"}),
        ({**ADA, "department": "c"}, {"department"}),
        ({**ADA, "extra": 1}, {"extra"}),
        ({k: v for k, v in ADA.items() if k != "email"}, {"email"}),
        ({**ADA, "name": None}, {"name"}),
        ({**ADA, "cgpa": "abc"}, {"cgpa"}),
        ({**ADA, "name": "x" * 5000}, {"name"}),
    ],
)
async def test_invalid_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, payload: dict[str, Any], fields: set[str]
) -> None:
    body = assert_problem(await client.post("/students", json=payload), 422)
    assert {e["field"] for e in body["errors"]} == fields
    assert await count(client) == 0


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/students", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/malformed-json"
    # Where the decoder stopped is said in words: it is no field (found by a new user: "field": "9").
    assert problem["errors"] == [
        {"location": "body", "field": "", "message": "Expecting value (at character 10)"}
    ]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_body_that_is_not_utf8_is_malformed_json(client: httpx.AsyncClient, method: str) -> None:
    # Found by the fuzzer: FastAPI's own answer was an undocumented 400.
    student = await create(client)
    path = "/students" if method == "POST" else f"/students/{student['id']}"
    response = await client.request(
        method,
        path,
        content=b'{"name": "\xc8\x97\xff"}',
        headers={"content-type": "application/json", "if-match": '"1"'},
    )
    assert assert_problem(response, 422)["type"] == "/problems/malformed-json"
    assert (await client.get(f"/students/{student['id']}")).json() == student


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_non_json_body_is_415(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/students", content=b'{"name": "x"}', headers=headers)
    assert_problem(response, 415)
    assert response.headers["accept"] == "application/json"


async def test_unknown_student_is_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/students/01a20376-32e4-73a0-b31a-8898a30fe5b8"), 404)
    assert body["type"] == "/problems/student-not-found"


async def test_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/students/not-a-uuid"), 422)
    assert body["errors"][0]["location"] == "path"


async def test_unknown_route_is_404_and_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404)
    response = await client.delete("/students")
    assert_problem(response, 405)
    # Allow names exactly what works, HEAD with every GET (interfaces/http/head.py).
    assert response.headers["allow"] == "GET, HEAD, POST"
    patch = await client.patch("/students", json={})
    assert patch.headers["allow"] == "GET, HEAD, POST"


async def test_replace(client: httpx.AsyncClient) -> None:
    student = await create(client)
    response = await client.put(
        f"/students/{student['id']}",
        headers=current(student),
        json={
            "name": "Grace Hopper",
            "email": "grace@example.org",
            "department": "ee",
            "cgpa": "9.9",
        },
    )
    assert response.status_code == 200
    assert response.json() | {"updated_at": None} == student | {
        "name": "Grace Hopper",
        "email": "grace@example.org",
        "department": "EE",
        "cgpa": 9.9,
        "version": 2,
        "updated_at": None,
    }


async def test_replace_needs_every_field(client: httpx.AsyncClient) -> None:
    student = await create(client)
    body = assert_problem(
        await client.put(f"/students/{student['id']}", json={"name": "X"}, headers=current(student)), 422
    )
    assert {e["field"] for e in body["errors"]} == {"email", "department", "cgpa"}


async def test_patch_changes_only_given_fields(client: httpx.AsyncClient) -> None:
    student = await create(client)
    response = await client.patch(f"/students/{student['id']}", json={"cgpa": 9.25}, headers=current(student))
    assert response.status_code == 200
    assert response.json()["cgpa"] == 9.25
    assert response.json()["name"] == student["name"]
    assert response.json()["version"] == 2


async def test_patch_accepts_merge_patch_media_type(client: httpx.AsyncClient) -> None:
    student = await create(client)
    response = await client.patch(
        f"/students/{student['id']}",
        content=b'{"name": "Countess"}',
        headers={"content-type": "application/merge-patch+json", **current(student)},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Countess"


async def test_patch_null_on_a_required_field_is_422(client: httpx.AsyncClient) -> None:
    student = await create(client)
    body = assert_problem(
        await client.patch(f"/students/{student['id']}", json={"name": None}, headers=current(student)), 422
    )
    assert body["errors"][0]["field"] == "name"
    assert (await client.get(f"/students/{student['id']}")).json() == student


async def test_patch_to_taken_email_is_409(client: httpx.AsyncClient) -> None:
    await create(client, email="one@example.org")
    other = await create(client, email="two@example.org")
    assert_problem(
        await client.patch(
            f"/students/{other['id']}", json={"email": "one@example.org"}, headers=current(other)
        ),
        409,
    )


async def test_delete(client: httpx.AsyncClient) -> None:
    student = await create(client)
    response = await client.delete(f"/students/{student['id']}", headers=current(student))
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(f"/students/{student['id']}"), 404)
    assert_problem(await client.delete(f"/students/{student['id']}", headers=current(student)), 404)


async def test_list_pages_with_cursor(client: httpx.AsyncClient) -> None:
    created = [await create(client, email=f"s{i}@example.org", name=f"S{i}") for i in range(5)]
    first = (await client.get("/students", params={"limit": 2})).json()
    assert [s["id"] for s in first["items"]] == [s["id"] for s in created[:2]]
    second = (await client.get("/students", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [s["id"] for s in second["items"]] == [s["id"] for s in created[2:4]]
    third = (await client.get("/students", params={"limit": 2, "cursor": second["next_cursor"]})).json()
    assert [s["id"] for s in third["items"]] == [created[4]["id"]]
    assert third["next_cursor"] is None


async def test_list_is_bounded(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/students", params={"limit": 201}), 422)
    assert_problem(await client.get("/students", params={"limit": 0}), 422)


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "age"},
        {"cursor": "garbage"},
        {"cgpa_min": "x"},
        {"department": "?"},
    ],
)
async def test_bad_list_parameters_are_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert_problem(await client.get("/students", params=params), 422)


async def test_a_misspelt_filter_is_422_not_an_unfiltered_page(client: httpx.AsyncClient) -> None:
    # Found by the fuzzer: unknown parameters used to be ignored, so a typo listed everyone.
    await create(client)
    problem = assert_problem(await client.get("/students", params={"departmnet": "EE"}), 422)
    assert problem["errors"] == [
        {"location": "query", "field": "departmnet", "message": "is not a known field"}
    ]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_operations_without_query_parameters_refuse_them(
    client: httpx.AsyncClient, method: str
) -> None:
    student = await create(client)
    body = None if method in ("GET", "DELETE") else {"cgpa": 1}
    response = await client.request(
        method,
        f"/students/{student['id']}?fields=name&fields=email",
        json=body,
        headers={"if-match": '"1"'},
    )
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["fields"]
    assert (await client.get(f"/students/{student['id']}")).json() == student


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_link_header_points_to_the_next_page_with_the_same_filters(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await create(client, email=f"s{i}@example.org", name=f"Grace {i}", department="EE")
    await create(client, email="other@example.org", department="CS")
    params: dict[str, str | int] = {"limit": 2, "department": "EE", "q": "grace", "sort": "-name"}
    first = await client.get("/students", params=params)
    link = first.headers["link"]
    assert link.endswith('>; rel="next"')
    next_url = httpx.URL(link[1 : link.index(">")])
    assert next_url.params["department"] == "EE"
    assert next_url.params["q"] == "grace"
    assert next_url.params["sort"] == "-name"
    assert next_url.params["cursor"] == first.json()["next_cursor"]
    last = await client.get(next_url.path, params=next_url.params)
    assert [s["name"] for s in last.json()["items"]] == ["Grace 0"]
    assert last.json()["next_cursor"] is None
    assert "link" not in last.headers


async def test_cursor_from_another_sort_is_422(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await create(client, email=f"s{i}@example.org")
    cursor = (await client.get("/students", params={"limit": 1, "sort": "name"})).json()["next_cursor"]
    response = await client.get("/students", params={"cursor": cursor, "sort": "cgpa"})
    assert assert_problem(response, 422)["errors"][0]["field"] == "cursor"


async def test_concurrent_registrations_all_succeed(client: httpx.AsyncClient) -> None:
    # On SQLite the writers queue for the write lock (BEGIN IMMEDIATE + busy timeout) instead of
    # failing with "database is locked".
    responses = await asyncio.gather(
        *(client.post("/students", json={**ADA, "email": f"c{i}@example.org"}) for i in range(20))
    )
    assert [r.status_code for r in responses] == [201] * 20
    assert await count(client) == 20


async def test_concurrent_registrations_of_one_email_create_one_student(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(client.post("/students", json=ADA) for _ in range(10)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 9
    assert await count(client) == 1


# --- Found by review of issues 2 and 3: each answered 500, rounded, or was silently ignored. ---


@pytest.mark.parametrize(
    "cgpa", ["8.749999999999999999", "9.999999999999999999", "8.755", "0.001"], ids=lambda c: f"number-{c}"
)
async def test_a_cgpa_number_with_more_than_two_decimals_is_refused_not_rounded(
    client: httpx.AsyncClient, cgpa: str
) -> None:
    body = json.dumps({**ADA, "cgpa": "X"}).replace('"X"', cgpa)  # a JSON number, exactly as written
    response = await client.post("/students", content=body, headers={"content-type": "application/json"})
    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["cgpa"]
    assert await count(client) == 0


@pytest.mark.parametrize("cgpa", ["1_0", "1e1", "1000000000000000000000000000000.001", " "])
async def test_a_cgpa_text_that_is_not_a_plain_decimal_in_range_is_422(
    client: httpx.AsyncClient, cgpa: str
) -> None:
    problem = assert_problem(await client.post("/students", json={**ADA, "cgpa": cgpa}), 422)
    assert [e["field"] for e in problem["errors"]] == ["cgpa"]
    assert await count(client) == 0


async def test_a_trailing_zero_is_not_precision(client: httpx.AsyncClient) -> None:
    body = json.dumps({**ADA, "cgpa": "X"}).replace('"X"', "8.750")
    response = await client.post("/students", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201
    assert response.json()["cgpa"] == 8.75


@pytest.mark.parametrize(
    "body",
    ['{"name": "A", "cgpa": ' + "9" * 5000 + "}", "[" * 5000 + "]" * 5000],
    ids=["5000-digit-number", "nested-5000-deep"],
)
async def test_json_beyond_the_decoder_is_malformed_not_400(client: httpx.AsyncClient, body: str) -> None:
    response = await client.post("/students", content=body, headers={"content-type": "application/json"})
    assert assert_problem(response, 422)["type"] == "/problems/malformed-json"


async def test_a_department_of_non_ascii_letters_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/students", json={**ADA, "department": "ßß"})  # "SSSS" once upper-cased
    assert [e["field"] for e in assert_problem(response, 422)["errors"]] == ["department"]


@pytest.mark.parametrize(("patch", "field"), [({"cgpa": "NaN"}, "cgpa"), ({"name": {}}, "name")])
async def test_a_bad_patch_value_is_named_once(
    client: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    student = await create(client)
    response = await client.patch(f"/students/{student['id']}", json=patch, headers=current(student))
    assert [e["field"] for e in assert_problem(response, 422)["errors"]] == [field]


async def test_a_patch_naming_an_unknown_field_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    student = await create(client)
    response = await client.patch(
        f"/students/{student['id']}", json={"cgpa": 9, "version": 7}, headers=current(student)
    )
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"location": "body", "field": "version", "message": "is not a known field"}]
    assert (await client.get(f"/students/{student['id']}")).json() == student


@pytest.mark.parametrize("q", ["\x00", "Ada\x00", "a\x07b"])
async def test_a_search_with_control_characters_is_422(client: httpx.AsyncClient, q: str) -> None:
    await create(client)
    problem = assert_problem(await client.get("/students", params={"q": q}), 422)
    assert [e["field"] for e in problem["errors"]] == ["q"]


def _cursor(order: str, *values: str) -> str:
    payload = {"v": 1, "o": order, "k": [*values, "01a20376-32e4-73a0-b31a-8898a30fe5b8"]}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("cgpa", _cursor("cgpa,id", "1E+299999999")),
        ("cgpa", _cursor("cgpa,id", "1000")),
        ("name", _cursor("name,id", "\ud800")),
        ("name", _cursor("name,id", "Ada\x00")),
        ("created_at", _cursor("created_at,id", "0001-01-01T00:00:00+14:00")),
        ("created_at", _cursor("created_at,id", "9999-12-31T23:59:59-14:00")),
    ],
    ids=["huge-cgpa", "cgpa-1000", "lone-surrogate", "nul", "year-1", "year-10000"],
)
async def test_a_crafted_cursor_is_422_at_once(client: httpx.AsyncClient, sort: str, cursor: str) -> None:
    await create(client)
    response = await client.get("/students", params={"sort": sort, "cursor": cursor})
    assert assert_problem(response, 422)["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("params", ["q=a&q=b", "limit=5&limit=6", "cursor=", "cgpa_min=1e1", "cgpa_max=1_0"])
async def test_repeated_or_empty_list_parameters_are_422(client: httpx.AsyncClient, params: str) -> None:
    assert_problem(await client.get(f"/students?{params}"), 422)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_an_if_match_beyond_any_version_is_412_not_500(client: httpx.AsyncClient, method: str) -> None:
    student = await create(client)
    body = None if method == "DELETE" else {**ADA, "name": "Other"} if method == "PUT" else {"name": "Other"}
    for tag in ('"2147483648"', '"999999999999999999"'):
        response = await client.request(
            method, f"/students/{student['id']}", json=body, headers={"if-match": tag}
        )
        assert assert_problem(response, 412)["type"] == "/problems/stale-version"
    overlong = await client.request(
        method, f"/students/{student['id']}", json=body, headers={"if-match": '"1"' + " " * 600}
    )
    assert assert_problem(overlong, 400)["type"] == "/problems/bad-if-match"
    assert (await client.get(f"/students/{student['id']}")).json() == student


async def test_an_object_of_thousands_of_members_is_refused_cheaply(client: httpx.AsyncClient) -> None:
    # Found by review: 90,000 unknown fields made a 9 MB answer listing each one.
    body = json.dumps({f"k{i}": 0 for i in range(90_000)}, separators=(",", ":"))  # under 1 MiB
    response = await client.post("/students", content=body, headers={"content-type": "application/json"})
    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/malformed-json"
    assert problem["errors"][0] == {
        "location": "body",
        "field": "",  # no field (it was the decoder's offset, "0")
        "message": "an object has more than 100 members",
    }
    assert len(response.content) < 2000


async def test_a_problem_lists_at_most_twenty_field_errors(client: httpx.AsyncClient) -> None:
    body = json.dumps({**ADA, **{f"k{i}": 0 for i in range(60)}})
    response = await client.post("/students", content=body, headers={"content-type": "application/json"})
    problem = assert_problem(response, 422)
    assert len(problem["errors"]) == 20
    assert problem["detail"].endswith("; and 40 more")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "{01890a5d-ac96-774b-bcce-b302099a8057}", ""])
async def test_a_bad_id_is_refused_alike_by_every_operation(client: httpx.AsyncClient, bad_id: str) -> None:
    # GET and DELETE take only their path and run without FastAPI's solver (operations.py): their
    # refusal must be the one FastAPI gives PUT and PATCH, field for field.
    path = f"/students/{bad_id}"
    if not bad_id:
        assert (await client.get(path)).status_code in (200, 404)  # "/students/" is another route
        return
    headers = {"if-match": "*"}
    refusals = [
        await client.get(path),
        await client.delete(path, headers=headers),
        await client.put(
            path, json={"name": "A", "email": "a@example.org", "department": "CS", "cgpa": 1}, headers=headers
        ),
        await client.patch(path, json={"cgpa": 1}, headers=headers),
    ]
    documents = [assert_problem(response, 422) for response in refusals]
    path_errors = [[e for e in d["errors"] if e["location"] == "path"] for d in documents]
    assert all(errors == path_errors[0] for errors in path_errors), path_errors
    assert path_errors[0]
    assert path_errors[0][0]["field"] == "student_id"
    assert {d["type"] for d in documents} == {documents[0]["type"]}


async def test_a_problems_instance_is_a_uri_reference_whatever_the_path_held(
    client: httpx.AsyncClient,
) -> None:
    # Found by schemathesis: the decoded path (controls, non-ASCII, spaces) was sent back as is.
    response = await client.get("/students/%C2%82%C2%A1%06%20a%25b")
    problem = assert_problem(response, 422)
    assert problem["instance"] == "/students/%C2%82%C2%A1%06%20a%25b"


@pytest.mark.parametrize(
    ("path", "instance"),
    [
        # Found by an attack: a handler's problem took Starlette's re-encoded URL and quoted it
        # again ("/a%253Fb"), and dropped CR and LF.
        ("/a%3Fb", "/a%3Fb"),
        ("/a%23b", "/a%23b"),
        ("/a%0D%0Ab", "/a%0D%0Ab"),
        ("/students/%5C", "/students/%5C"),
        # "//evil.example/..." is a reference to another host: written "/.//" (RFC 3986 4.2).
        ("//evil.example/students", "/.//evil.example/students"),
        ("/%2Fevil.example/x", "/.//evil.example/x"),
    ],
)
async def test_an_instance_is_the_path_asked_as_a_reference_to_this_service(
    client: httpx.AsyncClient, path: str, instance: str
) -> None:
    response = await client.get(f"http://testserver{path}")
    assert response.status_code in (404, 422), response.text
    assert response.json()["instance"] == instance


@pytest.mark.parametrize("target", ["/students/" + "a" * 3000, "/students?q=" + "a" * 5000])
async def test_a_uri_longer_than_any_this_service_has_is_414(client: httpx.AsyncClient, target: str) -> None:
    # Found by an attack: a 60,000-character path came back in instance and detail, past the
    # lengths the document gives them.
    problem = assert_problem(await client.get(target), 414)
    assert problem["type"] == "/problems/uri-too-long"
    assert problem["instance"] == "/"


@pytest.mark.parametrize(
    ("cgpa", "status"), [("\u00a08.5", 201), ("\u30008.5", 201), ("\t8.5", 422), ("\ufeff8.5", 422)]
)
async def test_a_cgpa_texts_spaces_are_those_its_pattern_documents(
    client: httpx.AsyncClient, cgpa: str, status: int
) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["StudentCreate"]
    (text,) = [o for o in schema["properties"]["cgpa"]["anyOf"] if o["type"] == "string"]
    assert bool(re.fullmatch(text["pattern"].strip("^$"), cgpa)) is (status == 201)
    response = await client.post(
        "/students", json={**ADA, "email": f"{status}.{ord(cgpa[0])}@example.org", "cgpa": cgpa}
    )
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("department", "status"),
    [("cs", 201), ("\u00a0EE2 ", 201), ("A", 422), ("0" * 11, 422), ("C-S", 422), ("\tCS", 422), ("ÇS", 422)],
)
async def test_a_department_is_what_its_pattern_documents(
    client: httpx.AsyncClient, department: str, status: int
) -> None:
    # Found by schemathesis: the document gave a department only a length of 20, so 19 zeros
    # were schema-valid and refused.
    document = (await client.get("/openapi.json")).json()
    pattern = document["components"]["schemas"]["StudentCreate"]["properties"]["department"]["pattern"]
    (query,) = [p for p in document["paths"]["/students"]["get"]["parameters"] if p["name"] == "department"]
    assert query["schema"]["pattern"] == pattern
    assert bool(re.fullmatch(pattern.strip("^$"), department)) is (status == 201)
    email = f"{status}.{len(department)}.{ord(department[0])}@example.org"
    response = await client.post("/students", json={**ADA, "email": email, "department": department})
    assert response.status_code == status, response.text
    listed = await client.get("/students", params={"department": department})
    assert listed.status_code == (200 if status == 201 else 422), listed.text
