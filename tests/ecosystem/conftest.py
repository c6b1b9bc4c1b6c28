"""One running `students serve` for the outside tools: they read the document it serves and the
clients they generate talk to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import free_port, server_environment, serving, students


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a server on a SQLite file of its own, with rate limits on (as `make run`
    serves it), on budgets the suite does not spend."""
    env = server_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ecosystem') / 'students.db'}",
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_RATE="10000",
        RATE_LIMIT_BURST="100000",
        RATE_LIMIT_ADDRESS_RATE="10000",
        RATE_LIMIT_ADDRESS_BURST="100000",
    )
    migrated = students("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    with serving(env, free_port()) as base:
        yield base


@pytest.fixture(scope="package")
def served_document(served: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OpenAPI document the running server answers /openapi.json with, as a file."""
    answer = httpx.get(f"{served}/openapi.json", timeout=10)
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    path = tmp_path_factory.mktemp("document") / "openapi.json"
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path
