"""Types from openapi-typescript compile with `tsc --strict` against a usage file, which then runs.

tests/ecosystem/typescript/usage.ts is a small client (openapi-fetch on the generated types): it
types a real 404 body as a Problem, and does register, a followed cursor, If-None-Match, If-Match,
a stale If-Match's 412 and a delete against the running server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.auth import token
from tests.support.node_tools import NODE_TOOLS, node_tool, run

SOURCES = Path(__file__).with_name("typescript")


@pytest.fixture
def project(served_document: Path, tmp_path: Path) -> Path:
    """usage.ts and tsconfig.json beside schema.d.ts, made from the served document."""
    for source in SOURCES.iterdir():
        shutil.copy(source, tmp_path / source.name)
    (tmp_path / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    (tmp_path / "node_modules").symlink_to(NODE_TOOLS / "node_modules", target_is_directory=True)
    generated = run(node_tool("openapi-typescript"), served_document, "--output", tmp_path / "schema.d.ts")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    return tmp_path


def _compile(project: Path) -> subprocess.CompletedProcess[str]:
    return run(node_tool("tsc"), "--project", project / "tsconfig.json", cwd=project)


def test_the_usage_file_compiles_strict_and_does_its_round(project: Path, served: str) -> None:
    compiled = _compile(project)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    department = f"TS{uuid.uuid4().hex[:6].upper()}"
    ran = subprocess.run(
        [shutil.which("node") or "node", project / "out" / "usage.js"],
        env={**os.environ, "BASE_URL": served, "TOKEN": token("students:read", "students:write"),
             "DEPARTMENT": department},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout) == {
        "registered": [1, 1, 1],
        "listed": True,
        "unchanged": 304,
        "changed": [200, 2, 9.5],
        "stale": [412, "/problems/stale-version", 0],
        "removed": 204,
        "gone": [404, 404, True],
    }


def test_a_body_that_does_not_fit_the_types_does_not_compile(project: Path) -> None:
    """The compile can fail: a problem without its status, or with null errors, is refused."""
    (project / "usage.ts").write_text(
        'import type { components } from "./schema.js";\n'
        'type Problem = components["schemas"]["Problem"];\n'
        'export const missing: Problem = { type: "/problems/x", title: "x", detail: "x", instance: "/" };\n'
        'export const nulled: Problem = { type: "/problems/x", title: "x", status: 400, detail: "x",'
        ' instance: "/", errors: null };\n',
        encoding="utf-8",
    )
    compiled = _compile(project)
    assert compiled.returncode != 0
    assert "Property 'status' is missing" in compiled.stdout
    assert "Type 'null' is not assignable" in compiled.stdout
