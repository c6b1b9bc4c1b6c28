"""The files a newcomer reads first say what the code does: settings, version, licence."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from infrastructure.settings import Settings
from interfaces.version import version

ROOT = Path(__file__).resolve().parents[2]


def _shown(default: object) -> str:
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return ",".join(default)
    return "" if default is None else str(default)


def test_env_example_lists_every_setting_with_its_default() -> None:
    listed = dict(re.findall(r"^# ([A-Z_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE))
    expected = {name.upper(): _shown(field.default) for name, field in Settings.model_fields.items()}
    assert listed == expected


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert version() == project["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{project['version']}]" in changelog


def test_there_is_a_licence() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
