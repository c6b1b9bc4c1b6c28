"""The service's version: the one in pyproject.toml, as the installed distribution reports it."""

from __future__ import annotations

from functools import cache
from importlib import metadata

DISTRIBUTION = "students-service"


@cache
def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a source tree never installed (`make` installs it)
        return "0+unknown"
