"""Under a path prefix (ROOT_PATH, serve --root-path): the same routes whether a proxy passes the
prefix on or strips it, with every link, page and comparison made under it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from dependency_injector import providers
from pydantic import ValidationError

from interfaces.container import Container
from interfaces.http.app import create_app
from tests.support.api import ADA, assert_problem
from tests.support.app_fixtures import in_memory_client
from tests.support.auth import bearer, settings_for_tests
from tests.support.server import free_port, server_environment, serving, students


@pytest.fixture
async def prefixed() -> AsyncIterator[httpx.AsyncClient]:
    async with in_memory_client(root_path="/api") as client:
        yield client


@pytest.mark.parametrize(
    "path", ["/api/healthz", "/healthz", "/api/openapi.json", "/api/docs-assets/favicon.png"]
)
async def test_public_paths_need_no_token_under_the_prefix_or_without_it(
    prefixed: httpx.AsyncClient, path: str
) -> None:
    assert (await prefixed.get(path)).status_code == 200


async def test_the_api_answers_both_ways_and_links_under_the_prefix(prefixed: httpx.AsyncClient) -> None:
    refused = assert_problem(await prefixed.get("/api/students"), 401)
    assert refused["instance"] == "/api/students"
    created = await prefixed.post("/api/students", json=ADA, headers=bearer())
    assert created.status_code == 201
    location = created.headers["Location"]
    assert location.startswith("/api/students/")
    # A proxy that strips the prefix reaches the same student, and is told the prefixed URL.
    read = await prefixed.get(location.removeprefix("/api"), headers=bearer())
    assert read.status_code == 200
    await prefixed.post("/students", json={**ADA, "email": "grace@example.org"}, headers=bearer())
    page = await prefixed.get("/api/students", params={"limit": 1}, headers=bearer())
    assert page.headers["Link"].startswith("</api/students?")
    missing = assert_problem(
        await prefixed.get("/api/students/" + "0" * 8 + "-0000-7000-8000-" + "0" * 12, headers=bearer()), 404
    )
    assert missing["instance"].startswith("/api/students/")


async def test_the_document_and_its_pages_live_under_the_prefix(prefixed: httpx.AsyncClient) -> None:
    document = (await prefixed.get("/api/openapi.json")).json()
    assert document["servers"][0]["url"] == "/api"
    for page in ("/api/docs", "/api/redoc"):
        html = (await prefixed.get(page)).text
        assert "/api/openapi.json" in html
        assert "/api/docs-assets/" in html


async def test_limits_and_exemptions_are_those_of_the_route_below_the_prefix() -> None:
    async with in_memory_client(
        root_path="/api",
        max_body_bytes=2048,
        rate_limit_enabled=True,
        rate_limit_address_rate=1,
        rate_limit_address_burst=3,
    ) as client:
        # Probes are never held back, prefixed or not.
        assert {(await client.get("/api/healthz")).status_code for _ in range(5)} == {200}
        # The import takes a file larger than MAX_BODY_BYTES under the prefix too.
        rows = "".join(f"Student {n},s{n}@example.org,CS,8.5\n" for n in range(200))
        imported = await client.post(
            "/api/students/import",
            content=("name,email,department,cgpa\n" + rows).encode(),
            headers={**bearer(), "content-type": "text/csv"},
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["imported"] == 200
        assert "ratelimit" in imported.headers


@pytest.mark.parametrize(
    ("given", "kept"),
    [("/api", "/api"), ("/api/", "/api"), (" /v1/students-api ", "/v1/students-api"), ("", "")],
)
def test_a_root_path_is_kept_as_one_form(given: str, kept: str) -> None:
    assert settings_for_tests(root_path=given).root_path == kept


@pytest.mark.parametrize("bad", ["api", "/a b", "/a%20b", "/api?x=1", "/api//v1"])
def test_a_root_path_that_is_not_a_plain_path_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        settings_for_tests(root_path=bad)


def test_a_root_path_that_is_a_route_of_its_own_is_refused() -> None:
    container = Container()
    container.settings.override(providers.Object(settings_for_tests(root_path="/students")))
    with pytest.raises(ValueError, match="own route"):
        create_app(container)


@pytest.mark.slow
def test_serve_root_path_on_a_real_server(tmp_path: Path) -> None:
    env = server_environment(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'students.db'}", ROOT_PATH="/api")
    assert students("migrate", env=env).returncode == 0
    refused = students("serve", "--root-path", "/students", "--port", "1", env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "students: --root-path: the prefix /students is the service's own route /students; choose another"
    )
    with serving(env, free_port()) as base:
        assert httpx.get(f"{base}/api/readyz").status_code == 200
        created = httpx.post(f"{base}/api/students", json=ADA, headers=bearer())
        assert created.status_code == 201
        assert created.headers["Location"].startswith("/api/students/")
        assert httpx.get(f"{base}{created.headers['Location']}", headers=bearer()).status_code == 200
