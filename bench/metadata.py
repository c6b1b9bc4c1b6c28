"""What a result depends on besides the code: command, commit, versions, machine, data, load."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.config import RESULTS_DIR, ROOT, Load

_PACKAGES = (
    *("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "sqlalchemy"),
    *("asyncpg", "psycopg", "psycopg-binary", "orjson", "dependency-injector"),
)


@dataclass(frozen=True, slots=True)
class Environment:
    command: str
    git_commit: str
    git_dirty: bool
    python: str
    postgres: str
    wrk: str
    packages: dict[str, str]
    cpu: str
    cpus: int
    memory: str
    kernel: str
    rows: int
    # Cores' worth of work others did on the machine in the seconds before the first run (0.0 is idle).
    background_cores: float
    load_average: str
    load: dict[str, int]
    service_header_names: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def git_state() -> tuple[str, bool]:
    """The commit measured, and whether the tree had changes outside bench/results."""
    return _git("rev-parse", "HEAD"), bool(_git("status", "--porcelain", "--", ".", ":!bench/results"))


def _command() -> str:
    settings = [f"{name}={shlex.quote(value)}" for name, value in sorted(os.environ.items())]
    settings = [s for s in settings if s.startswith("BENCH_") and not s.startswith("BENCH_SERVICE_HEADERS=")]
    runner = (
        "make bench" if "MAKELEVEL" in os.environ else f"{Path(sys.executable).relative_to(ROOT)} -m bench"
    )
    return " ".join([*settings, runner])


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect(
    *, postgres: str, rows: int, background_cores: float, load: Load, service_header_names: list[str]
) -> Environment:
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    commit, dirty = git_state()
    return Environment(
        command=_command(),
        git_commit=commit,
        git_dirty=dirty,
        python=platform.python_version(),
        postgres=postgres,
        wrk=(wrk.stdout or wrk.stderr).splitlines()[0].split(" [")[0],
        packages={package: package_version(package) for package in _PACKAGES},
        cpu=cpu_model(),
        cpus=os.cpu_count() or 1,
        memory=_memory(),
        kernel=platform.release(),
        rows=rows,
        background_cores=background_cores,
        load_average=" ".join(Path("/proc/loadavg").read_text().split()[:3]),
        load=asdict(load),
        service_header_names=service_header_names,
    )


def write_report(lines: list[str], kind: str) -> Path:
    """Write a Markdown report into bench/results/, named by the time and ``kind``; say where."""
    RESULTS_DIR.mkdir(exist_ok=True)
    report = RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{kind}.md"
    report.write_text("\n".join(lines) + "\n")
    print(f"written to {report.relative_to(ROOT)}")
    return report
