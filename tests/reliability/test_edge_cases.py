"""Inputs at the edges, each answered as documented: one regression test per finding, every backend.

Each test names what the review found before the fix.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from dependency_injector import providers

from interfaces.container import Container
from interfaces.http.app import create_app
from tests.support.api import ADA, assert_problem, create
from tests.support.auth import SECRET, bearer, settings_for_tests


def raw_json(fields: str) -> bytes:
    return ('{"name": "Ada", "email": "ada@example.org", "department": "CS", ' + fields + "}").encode()


async def _patch_raw(client: httpx.AsyncClient, student_id: str, text: str) -> httpx.Response:
    """A merge-patch of ``text`` as it is written, unconditional (If-Match: *)."""
    return await client.patch(
        f"/students/{student_id}",
        content=text.encode(),
        headers={"content-type": "application/merge-patch+json", "if-match": "*"},
    )


@pytest.mark.parametrize(
    "number", ["0e99999999999999999999", "1E-99999999999999999999", "-0e+999999999999999999999"]
)
async def test_a_number_with_a_huge_exponent_is_malformed_json(
    client: httpx.AsyncClient, number: str
) -> None:
    # Was 400 /problems/http-error, a status no operation documents.
    response = await client.post(
        "/students", content=raw_json(f'"cgpa": {number}'), headers={"content-type": "application/json"}
    )
    assert assert_problem(response, 422)["type"] == "/problems/malformed-json"
    student = await create(client)
    patch = await _patch_raw(client, student["id"], f'{{"cgpa": {number}}}')
    assert assert_problem(patch, 422)["type"] == "/problems/malformed-json"


@pytest.mark.parametrize(
    ("member", "constant"), [("cgpa", "NaN"), ("cgpa", "-Infinity"), ("name", "Infinity")]
)
async def test_nan_and_infinity_are_not_json(client: httpx.AsyncClient, member: str, constant: str) -> None:
    # Found by attack: Python's decoder read them, and the answer was a field's validation error.
    body = {"name": '"Ada"', "email": '"ada@example.org"', "department": '"CS"', "cgpa": "8.5"}
    body[member] = constant
    content = ("{" + ", ".join(f'"{name}": {value}' for name, value in body.items()) + "}").encode()
    response = await client.post("/students", content=content, headers={"content-type": "application/json"})
    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/malformed-json"
    assert problem["errors"][0]["message"] == f"cannot be read: {constant} is not a JSON number"
    student = await create(client)
    patch = await _patch_raw(client, student["id"], f'{{"{member}": {constant}}}')
    assert assert_problem(patch, 422)["type"] == "/problems/malformed-json"
    assert (await client.get(f"/students/{student['id']}")).json() == student


async def test_minus_zero_is_answered_as_zero_everywhere(client: httpx.AsyncClient) -> None:
    # Was -0.0 on POST and on replays, 0.0 on GET.
    headers = {"content-type": "application/json", "idempotency-key": "minus-zero"}
    created = await client.post("/students", content=raw_json('"cgpa": -0.0'), headers=headers)
    replayed = await client.post("/students", content=raw_json('"cgpa": -0.0'), headers=headers)
    fetched = await client.get(created.headers["location"])
    for response in (created, replayed, fetched):
        assert response.is_success, response.text
        assert b'"cgpa":0.0' in response.content
    assert replayed.headers["idempotent-replayed"] == "true"


async def test_a_retry_written_differently_but_meaning_the_same_is_replayed(
    client: httpx.AsyncClient,
) -> None:
    # Was 422 idempotency-key-reused, though the student would have been the same.
    headers = {"idempotency-key": "same-student"}
    first = await client.post("/students", json={**ADA, "cgpa": 7.5, "department": "CS"}, headers=headers)
    again = await client.post(
        "/students",
        content=b'{"name": " Ada Lovelace ", "email": "ADA@example.org", "department": "cs", "cgpa": 7.50}',
        headers={**headers, "content-type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


async def test_links_never_come_from_the_host_header(anonymous: httpx.AsyncClient) -> None:
    # Location was http://evil.example/students/... for Host: evil.example.
    headers = {**bearer(), "host": "evil.example"}
    response = await anonymous.post("/students", json=ADA, headers=headers)
    assert assert_problem(response, 400)["type"] == "/problems/host-not-allowed"
    created = await anonymous.post("/students", json=ADA, headers=bearer())
    assert created.headers["location"].startswith("/students/")
    await anonymous.post("/students", json={**ADA, "email": "b@example.org"}, headers=bearer())
    page = await anonymous.get("/students", params={"limit": 1, "q": "ada"}, headers=bearer())
    assert page.headers["link"].startswith("</students?limit=1&q=ada&cursor=")


@pytest.mark.parametrize("path", ["/students/", "/healthz/"])
async def test_a_trailing_slash_is_404_and_never_a_redirect(client: httpx.AsyncClient, path: str) -> None:
    # Was a 307 to http://<whatever Host said>/students.
    response = await client.get(path, headers={"host": "testserver"})
    assert assert_problem(response, 404)["type"] == "/problems/not-found"
    assert "location" not in response.headers


@pytest.fixture
async def public_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    base = "https://students.example.org/registry"
    container.settings.override(
        # ALLOWED_HOSTS unset: the host of PUBLIC_BASE_URL is served, as is localhost.
        providers.Object(
            settings_for_tests(
                database_url="sqlite+aiosqlite://", public_base_url=base + "/", allowed_hosts=()
            )
        )
    )
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://students.example.org", headers=bearer()
    ) as c:
        yield c
    container.unwire()


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_absolute_links_are_built_on_the_public_base_url(public_client: httpx.AsyncClient) -> None:
    created = await public_client.post("/students", json=ADA)
    assert created.status_code == 201, created.text
    assert (
        created.headers["location"]
        == f"https://students.example.org/registry/students/{created.json()['id']}"
    )
    await public_client.post("/students", json={**ADA, "email": "b@example.org"})
    page = await public_client.get("/students", params={"limit": 1})
    assert page.headers["link"].startswith("<https://students.example.org/registry/students?limit=1&cursor=")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Ada\u2028Lovelace", "must not contain control or invisible formatting characters"),
        ("Ada\u2029King", "must not contain control or invisible formatting characters"),
        ("\u3164\u3164", "must not be blank"),
        ("\u2800", "must not be blank"),
        ("\u0301", "must not be blank"),
    ],
)
async def test_names_that_break_lines_or_show_nothing_are_422(
    client: httpx.AsyncClient, name: str, message: str
) -> None:
    response = await client.post("/students", json={**ADA, "name": name})
    errors = assert_problem(response, 422)["errors"]
    assert errors == [{"location": "body", "field": "name", "message": message}]


async def test_an_emoji_joined_by_zero_width_joiners_is_a_name(client: httpx.AsyncClient) -> None:
    # Was refused as a control character.
    student = await create(client, name="Ada 👩\u200d💻")
    assert student["name"] == "Ada 👩\u200d💻"


async def test_one_name_in_two_unicode_spellings_is_one_name(client: httpx.AsyncClient) -> None:
    # Was stored as sent, and q in one spelling missed the other.
    composed = "Jos\u00e9 Mart\u00ed"
    decomposed = unicodedata.normalize("NFD", composed)
    student = await create(client, name=decomposed)
    assert student["name"] == composed
    for q in (composed, decomposed, "JOSE\u0301", "josé"):
        found = (await client.get("/students", params={"q": q})).json()["items"]
        assert [s["id"] for s in found] == [student["id"]], q


async def test_type_errors_and_rule_errors_are_reported_together(client: httpx.AsyncClient) -> None:
    # Only cgpa (a type error) was named; the rule errors of the other three were not.
    response = await client.post("/students", json={"name": "", "email": "x", "department": "", "cgpa": "x"})
    problem = assert_problem(response, 422)
    assert {e["field"] for e in problem["errors"]} == {"name", "email", "department", "cgpa"}
    assert "Value error" not in response.text


@pytest.mark.parametrize("body", [{"cgpa": "12"}, {"department": "É"}])
async def test_bad_values_are_422_whatever_the_if_match(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    # {"department": "É"} without If-Match was 428, {"cgpa": "12"} 422: the rules come first.
    student = await create(client)
    for headers in ({}, {"if-match": '"9"'}, {"if-match": "nonsense"}):
        response = await client.patch(f"/students/{student['id']}", json=body, headers=headers)
        assert assert_problem(response, 422)["errors"][0]["field"] == next(iter(body))


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
async def test_a_token_whose_times_are_strings_is_refused(anonymous: httpx.AsyncClient, claim: str) -> None:
    # RFC 7519: a NumericDate is a number; "exp": "9999999999" was accepted.
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "mallory",
        "scope": "students:read",
        "exp": now + 600,
        "iat": now,
        "nbf": now,
    }
    claims[claim] = str(claims[claim])
    forged = jwt.encode(claims, SECRET, algorithm="HS256")
    response = await anonymous.get("/students", headers={"authorization": f"Bearer {forged}"})
    problem = assert_problem(response, 401)
    assert problem["detail"] == f"the token's {claim} must be a number (a NumericDate)"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_readiness_is_ready_while_the_pool_is_busy(
    client: httpx.AsyncClient, container: Container
) -> None:
    # Was 503 "cannot be reached" when every pooled connection was merely in use.
    from infrastructure.sqlalchemy.gate import ConnectionGate

    container.connection_gate.override(providers.Object(ConnectionGate(permits=1, timeout=0.05)))
    container.database.reset()  # built with the gate it had: build it again with this one
    async with container.unit_of_work():
        assert (await client.get("/students")).status_code == 503  # the pool is busy
        readiness = await client.get("/readyz")
        assert readiness.status_code == 200, readiness.text  # the database is fine


@pytest.mark.parametrize("q", ["\n", "\x1f", "\u0085", "\u2028", "\r\n\t", "a\n"])
async def test_a_search_with_control_characters_is_422_wherever_they_are(
    client: httpx.AsyncClient, q: str
) -> None:
    # Found by review: at either end they were trimmed, and the search listed every student.
    await create(client)
    response = await client.get("/students", params={"q": q})
    assert assert_problem(response, 422)["errors"][0]["field"] == "q"


@pytest.mark.parametrize("value", ['"1", , "2"', ',"1"', '"1",', ' ,, "1" ,,'])
async def test_empty_elements_of_an_if_match_list_are_ignored(client: httpx.AsyncClient, value: str) -> None:
    # RFC 9110 5.6.1: a recipient ignores empty list elements; they were 400.
    student = await create(client)
    response = await client.patch(
        f"/students/{student['id']}", json={"name": "X"}, headers={"if-match": value}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("if_none_match", "status"), [("*", 412), ('"1"', 412), ('W/"1"', 412), ('"7"', 200)]
)
async def test_if_none_match_is_judged_on_writes(
    client: httpx.AsyncClient, if_none_match: str, status: int
) -> None:
    # Was ignored: If-Match "1" with If-None-Match * wrote the student.
    student = await create(client)
    headers = {"if-match": '"1"', "if-none-match": if_none_match}
    response = await client.patch(f"/students/{student['id']}", json={"name": "X"}, headers=headers)
    assert response.status_code == status, response.text
    removal = await client.delete(
        f"/students/{student['id']}", headers={"if-match": "*", "if-none-match": "*"}
    )
    assert assert_problem(removal, 412)["type"] == "/problems/stale-version"


@pytest.mark.parametrize(("if_match", "status"), [('"999"', 412), ('"1"', 200), ("*", 200), ('W/"1"', 412)])
async def test_if_match_is_judged_on_reads(client: httpx.AsyncClient, if_match: str, status: int) -> None:
    # Was ignored on GET (RFC 9110 13.2.2: false is 412 there too).
    student = await create(client)
    response = await client.get(f"/students/{student['id']}", headers={"if-match": if_match})
    assert response.status_code == status, response.text


async def test_an_idempotency_key_is_one_value_without_its_trailing_spaces(client: httpx.AsyncClient) -> None:
    # "k" and "k " made two students; two Idempotency-Key headers used the last without a word.
    first = await client.post("/students", json=ADA, headers={"idempotency-key": "k"})
    again = await client.post("/students", json=ADA, headers={"idempotency-key": "k \t"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    both = await client.post(
        "/students", json=ADA, headers=[("idempotency-key", "a"), ("idempotency-key", "b")]
    )
    assert assert_problem(both, 400)["type"] == "/problems/bad-idempotency-key"
    blank = await client.post("/students", json=ADA, headers={"idempotency-key": " "})
    assert assert_problem(blank, 422)["errors"][0]["field"] == "idempotency-key"


@pytest.mark.parametrize(
    "spelling",
    ["{%s}", "urn:uuid:%s", "hyphenless"],
)
async def test_a_student_id_has_one_spelling(client: httpx.AsyncClient, spelling: str) -> None:
    # Braces, a URN and the hyphenless form all reached the student (Python's UUID takes them).
    student = await create(client)
    path = student["id"].replace("-", "").upper() if spelling == "hyphenless" else spelling % student["id"]
    assert_problem(await client.get(f"/students/{path}"), 422)
    assert (await client.get(f"/students/{student['id'].upper()}")).status_code == 200


async def test_an_encoded_slash_is_not_a_slash(client: httpx.AsyncClient) -> None:
    # /students%2F<id> reached the student, and PATCH and DELETE through it took effect.
    student = await create(client)
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"/students%2F{student['id']}", headers={"if-match": "*"})
        assert assert_problem(response, 404)["type"] == "/problems/not-found"
    assert (await client.get(f"/students/{student['id']}")).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
async def test_a_missing_scope_is_403_before_the_body_is_judged(
    anonymous: httpx.AsyncClient, method: str
) -> None:
    # With a read-only token a malformed body was 422: the body was read before the scope check.
    path = "/students" if method == "POST" else "/students/01890a5d-ac96-774b-bcce-b302099a8057"
    headers = {**bearer("students:read"), "content-type": "application/json", "if-match": "*"}
    response = await anonymous.request(method, path, content=b"{", headers=headers)
    assert assert_problem(response, 403)["type"] == "/problems/insufficient-scope"
    other = {**bearer(), "content-type": "application/foo+json", "if-match": "*"}
    assert assert_problem(await anonymous.request(method, path, content=b"{", headers=other), 415)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
async def test_a_body_in_another_encoding_than_utf8_is_malformed(
    client: httpx.AsyncClient, encoding: str
) -> None:
    # UTF-16 and UTF-32 bodies were taken (json.loads guesses the encoding); RFC 8259: UTF-8 only.
    body = json.dumps(ADA).encode(encoding)
    response = await client.post("/students", content=body, headers={"content-type": "application/json"})
    assert assert_problem(response, 422)["type"] == "/problems/malformed-json"


async def test_every_private_operation_documents_a_bad_host_and_an_unavailable_database(
    client: httpx.AsyncClient,
) -> None:
    # POST and GET /students could answer 400 (a Host not served) without documenting it.
    document = (await client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert {"400", "401", "403", "503"} <= set(operation["responses"]), (method, path)
