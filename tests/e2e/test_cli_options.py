"""The `students` command's own options: --version, and serve's options beside the settings."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.support.server import server_environment, students

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_version_and_exits_0() -> None:
    result = students("--version", env=server_environment())
    assert result.returncode == 0
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert result.stdout.strip() == f"students {expected}"


def test_serve_help_names_every_option_with_its_default() -> None:
    result = students("serve", "--help", env=server_environment())
    assert result.returncode == 0
    for option in (
        "--proxy-headers",
        "--forwarded-allow-ips",
        "--shutdown-drain",
        "--shutdown-timeout",
    ):
        assert option in result.stdout
    assert result.stdout.count("default") >= 7


def test_a_bad_serve_option_is_one_line_in_plain_words() -> None:
    env = server_environment()
    seconds = students("serve", "--shutdown-timeout", "soon", env=env)
    assert seconds.returncode == 2
    assert "'soon' is not a number of seconds" in seconds.stderr
    drain = students("serve", "--shutdown-drain", "-1", env=env)
    assert drain.returncode == 2
    assert "'-1' is not a number of seconds" in drain.stderr
    assert "Traceback" not in seconds.stderr + drain.stderr
