"""A real `students serve` as an operator meets it: its log lines, its metrics, its docs pages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.auth import bearer, token
from tests.support.databases import backends_required
from tests.support.server import server_environment, serving, students

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = server_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'students.db'}", LOG_FORMAT="json"
    )
    migrated = students("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env


def test_every_log_line_is_json_and_each_request_has_an_access_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    credentials = token("students:read", "students:write", subject="clerk-9")
    auth = {"authorization": f"Bearer {credentials}"}
    ada = {"name": "Ada", "email": "ada.lovelace@example.org", "department": "CS", "cgpa": 9}
    with serving(env, log=log) as base:
        created = httpx.post(f"{base}/students", json=ada, headers={**auth, "x-request-id": "trace-me-1"})
        assert created.status_code == 201
        assert httpx.post(f"{base}/students", json=ada, headers=auth).status_code == 409
        assert httpx.get(f"{base}/students", params={"q": "Lovelace"}, headers=auth).status_code == 200
        assert httpx.get(f"{base}/students", headers={"authorization": "Bearer forged"}).status_code == 401
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]

    access = [line for line in lines if line.get("event") == "request"]
    first = next(line for line in access if line.get("request_id") == "trace-me-1")
    assert first["method"] == "POST"
    assert first["route"] == "/students"
    assert first["status"] == 201
    assert first["subject"] == "clerk-9"
    assert isinstance(first["duration_ms"], float)
    assert first["duration_ms"] > 0
    assert {"timestamp", "level", "logger"} <= first.keys()
    statuses = [(line["method"], line["status"]) for line in access if line["path"] == "/students"]
    assert ("POST", 409) in statuses
    # Refused before routing: the line names the path; the route template is not known yet.
    assert ("GET", 401) in statuses
    assert any(line.get("logger", "").startswith("uvicorn") for line in lines)  # the server's own lines too

    for secret in (credentials, "forged", "ada.lovelace@example.org", "Lovelace"):
        assert secret not in text, secret


def _sample(exposition: str, name: str, **labels: str) -> float | None:
    for line in exposition.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_add_up_over_every_worker(env: dict[str, str]) -> None:
    with serving(env, workers=2) as base:
        for _ in range(40):
            # A new connection each time, so that both workers take their share.
            assert httpx.get(f"{base}/healthz", headers={"connection": "close"}).status_code == 200
        scrapes = [httpx.get(f"{base}/metrics", headers={"connection": "close"}).text for _ in range(6)]
    counts = {
        _sample(s, "http_requests_total", method="GET", route="/healthz", status="200") for s in scrapes
    }
    assert counts == {40.0}
    assert all("pid=" not in line for s in scrapes for line in s.splitlines() if "http_requests" in line)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# Chromium's own background calls (updates, accounts, clock), made whatever page it shows.
_BROWSER_OWN = re.compile(r"https?://[^/]*\.(google\.com|googleapis\.com|gstatic\.com|gvt1\.com)/")


def _rendered(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium; fails if the page asked for
    anything from anywhere but ``url``'s server (this machine has no internet, so a page that
    did would look fine here and break, or leak, elsewhere)."""
    if CHROMIUM is None:
        message = "chromium is not installed (apt-get install chromium)"
        if backends_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--log-net-log={profile / 'net-log.json'}",
        "--virtual-time-budget=20000",
        "--dump-dom",
    ]
    result = subprocess.run(
        [CHROMIUM, *flags, url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(profile)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    origin = re.match(r"https?://[^/]+", url)
    assert origin is not None
    requested = set(re.findall(r'"url":"([^"]+)"', (profile / "net-log.json").read_text()))
    elsewhere = {u for u in requested if not u.startswith(origin[0]) and not _BROWSER_OWN.match(u)}
    assert elsewhere == set()
    return result.stdout


OPERATIONS: list[tuple[str, str]] = [
    ("post", "/students"),
    ("get", "/students"),
    ("get", "/students/{student_id}"),
    ("put", "/students/{student_id}"),
    ("patch", "/students/{student_id}"),
    ("delete", "/students/{student_id}"),
]


def test_swagger_ui_lists_every_operation_without_internet(env: dict[str, str], tmp_path: Path) -> None:
    with serving(env) as base:
        dom = _rendered(f"{base}/docs", tmp_path / "chromium")
    for method, path in OPERATIONS:
        assert re.search(rf'opblock-{method}\b.*?data-path="{re.escape(path)}"', dom, re.S), (method, path)
    assert "Authorize" in dom  # the bearer scheme is declared


def test_redoc_renders_every_operation_without_internet(env: dict[str, str], tmp_path: Path) -> None:
    with serving(env) as base:
        summaries: list[Any] = [
            operation["summary"]
            for item in httpx.get(f"{base}/openapi.json").json()["paths"].values()
            for operation in item.values()
        ]
        dom = _rendered(f"{base}/redoc", tmp_path / "chromium")
    assert "Something went wrong" not in dom
    for summary in summaries:
        assert summary in dom, summary


def test_docs_pages_name_no_other_host(env: dict[str, str]) -> None:
    with serving(env) as base:
        for path in ("/docs", "/redoc"):
            page = httpx.get(f"{base}{path}")
            # The browser itself refuses anything from elsewhere (ReDoc's bundle would fetch a logo).
            assert "default-src 'self'" in page.headers["content-security-policy"]
            html = page.text
            assert not re.search(r"(src|href)=[\"']?(https?:)?//", html), path
            assert "fonts.googleapis" not in html
            assert "cdn.jsdelivr" not in html


def test_a_request_with_a_token_is_logged_with_its_subject_only(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with serving(env, log=log) as base:
        assert httpx.get(f"{base}/students", headers=bearer(subject="auditor-3")).status_code == 200
    access = [json.loads(line) for line in log.read_text().splitlines() if '"event":"request"' in line]
    assert [line["subject"] for line in access if line["route"] == "/students"] == ["auditor-3"]
