"""Spectral's OpenAPI rules and OWASP's API security rules find nothing in the served document.

The ruleset (tests/ecosystem/spectral.yaml) turns rules off only where the service departs from
them on purpose, each with its reason; anything else Spectral reports fails this test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from dependency_injector import providers
from openapi_spec_validator import validate

from interfaces.container import Container
from interfaces.http.app import create_app
from tests.support.auth import settings_for_tests
from tests.support.node_tools import NODE_TOOLS, node_tool, run

RULESET = Path(__file__).with_name("spectral.yaml")


def _production_document(folder: Path) -> Path:
    """The document as a production deployment serves it: behind https, with CORS for one origin."""
    container = Container()
    container.settings.override(
        providers.Object(
            settings_for_tests(
                environment="production",
                public_base_url="https://students.example.org",
                cors_origins=("https://registrar.example.org",),
                rate_limit_enabled=True,
            )
        )
    )
    path = folder / "openapi.json"
    path.write_text(json.dumps(create_app(container).openapi()), encoding="utf-8")
    return path


def _lint(document: Path, folder: Path) -> list[str]:
    spectral = node_tool("spectral")
    # The ruleset names the OWASP package, which node resolves from the ruleset's own folder.
    shutil.copy(RULESET, folder / "spectral.yaml")
    (folder / "node_modules").symlink_to(NODE_TOOLS / "node_modules", target_is_directory=True)
    linted = run(
        spectral, "lint", document, "--ruleset", folder / "spectral.yaml", "--format", "json", "--quiet"
    )
    assert linted.returncode in (0, 1), linted.stderr  # 1: it found something, listed below
    findings = json.loads(linted.stdout or "[]")
    return [f"{f['code']} at {'.'.join(map(str, f['path']))}: {f['message']}" for f in findings]


def test_the_served_document_is_valid_openapi(served_document: Path) -> None:
    validate(json.loads(served_document.read_text(encoding="utf-8")))


def test_spectral_finds_nothing_in_the_served_document(served_document: Path, tmp_path: Path) -> None:
    assert _lint(served_document, tmp_path) == []


def test_spectral_finds_nothing_in_a_production_document(tmp_path: Path) -> None:
    document = _production_document(tmp_path)
    validate(json.loads(document.read_text(encoding="utf-8")))
    assert _lint(document, tmp_path) == []


def test_a_finding_fails_the_check(tmp_path: Path) -> None:
    """The check can fail: an operation without a description or responses is reported."""
    bare = {
        "openapi": "3.1.0",
        "info": {"title": "bare", "version": "1"},
        "paths": {"/things": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    document = tmp_path / "bare.json"
    document.write_text(json.dumps(bare), encoding="utf-8")
    findings = _lint(document, tmp_path)
    assert any(finding.startswith("operation-description") for finding in findings)
    assert any(finding.startswith("owasp:api4:2023-rate-limit ") for finding in findings)


@pytest.fixture(autouse=True)
def _tools_installed() -> None:
    node_tool("spectral")
