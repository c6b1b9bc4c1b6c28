"""The npm tools the Makefile installs into .venv/node (tests/ecosystem/package.json)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.databases import backends_required

ROOT = Path(__file__).resolve().parents[2]
# Where `make install-node` puts them; NODE_TOOLS names another folder that holds node_modules.
NODE_TOOLS = Path(os.environ.get("NODE_TOOLS", ROOT / ".venv" / "node"))


def node_tool(name: str) -> Path:
    """The command ``name`` of the installed tools: a failure in CI when it is missing, else a skip."""
    command = NODE_TOOLS / "node_modules" / ".bin" / name
    if not command.exists():
        message = f"{name} is not installed in {NODE_TOOLS}: run `make install-node` (needs node and npm)"
        if backends_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return command


def run(
    *command: str | Path, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
