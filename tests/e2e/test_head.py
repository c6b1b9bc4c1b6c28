"""HEAD on every GET route: the GET's status and headers, never a body (RFC 9110 9.3.2)."""

from __future__ import annotations

import httpx

from interfaces.http.app import create_app
from tests.support.api import create


async def test_head_answers_what_get_would_without_the_body(client: httpx.AsyncClient) -> None:
    student = await create(client)
    path = f"/students/{student['id']}"
    got, head = await client.get(path), await client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == got.headers["ETag"]
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    listing = await client.head("/students?limit=1")
    assert (listing.status_code, listing.content) == (200, b"")
    health_get, health_head = await client.get("/healthz"), await client.head("/healthz")
    assert health_head.status_code == 200
    # A public route's answer may be cached, HEAD's as GET's (found by the attack on HEAD).
    assert "cache-control" not in health_get.headers
    assert "cache-control" not in health_head.headers
    export = await client.head("/students/export")
    assert (export.status_code, export.content) == (200, b"")
    assert export.headers["Content-Type"].startswith("text/csv")
    assert "Content-Length" not in export.headers  # streamed, as the GET is


async def test_head_is_refused_as_get_would_be(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    missing = await client.head("/students/01890a5d-ac96-774b-bcce-b302099a8057")
    assert (missing.status_code, missing.content) == (404, b"")
    assert (await anonymous.head("/students")).status_code == 401
    refused = await client.head("/students/import")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "POST"
    allowed = await client.request("OPTIONS", "/students")
    assert "HEAD" in allowed.headers["Allow"].split(", ")


def test_every_get_operation_has_a_documented_head() -> None:
    paths = create_app().openapi()["paths"]
    for path, item in paths.items():
        if "get" in item:
            head = item["head"]
            assert head["operationId"] == f"{item['get']['operationId']}_head", path
            assert all("content" not in response for response in head["responses"].values()), path
