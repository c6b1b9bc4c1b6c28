"""Every knob of the suite in one place: the database, the three apps, their environments, the load."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from infrastructure.auth.tokens import TokenIssuer

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
LUA_DIR = BENCH_DIR / "lua"
RESULTS_DIR = BENCH_DIR / "results"

# PostgreSQL: the suite creates, migrates and seeds its own database on this server.
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DATABASE = "students_bench"
ADMIN_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
BENCH_DSN = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{DATABASE}"

ROWS = 200_000
DEEP_ROW = 190_000  # the deep page starts right after the row at this position (1-based)
PAGE_SIZE = 50
POINT_READ_IDS = 20_000  # how many distinct ids the point-read script picks from
SEED_EMAIL_DOMAIN = "seed.example.org"
POST_EMAIL_DOMAIN = "post.example.org"  # rows the POST runs add; deleted before and after a suite

# The machine has two cores: each app runs alone on core 0, wrk alone on core 1. PostgreSQL is
# not pinned and shares both with them (see bench/README.md).
APP_CPU, WRK_CPU = "0", "1"
# Cores' worth of work by processes that are neither the app, wrk nor PostgreSQL, above which a run
# (or the idle machine before the first run) is reported as disturbed.
NOISE_CORES = 0.15

# Processes started by the suite inherit only these variables from the caller, plus their own below,
# so a stray DATABASE_URL or DB_ECHO in the caller's shell cannot change what is measured.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a process the suite starts: a few inherited variables, then ``extra``."""
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    env["PYTHONPATH"] = str(ROOT)  # bench.apps is not installed; the service is
    return env | extra


# A secret made for this run of the suite: the service verifies, and the suite mints, its tokens.
_SECRET = secrets.token_urlsafe(48)

# The environment of the service under test, as it would run in production: tokens verified on
# every request, JSON access lines written (to a file). Add settings here (DB_POOL_SIZE, ...).
SERVICE_ENV: dict[str, str] = {
    "DATABASE_URL": f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{DATABASE}",
    "ENVIRONMENT": "production",
    "AUTH_SECRET": _SECRET,
    "LOG_FORMAT": "json",
    # Rate limits on, as in production, with budgets no run spends: their cost is measured too.
    "RATE_LIMIT_RATE": "1000000",
    "RATE_LIMIT_BURST": "10000000",
    "RATE_LIMIT_ADDRESS_RATE": "1000000",
    "RATE_LIMIT_ADDRESS_BURST": "10000000",
}


def service_headers() -> dict[str, str]:
    """Headers sent with every request to the service (never to the comparison apps): a bearer
    token with the read and write scopes. ``BENCH_SERVICE_HEADERS='Name: value'`` lines replace it.
    Values are sent but never written to the results, which record header names only.
    """
    given = os.environ.get("BENCH_SERVICE_HEADERS")
    if given is not None:
        return parse_headers(given)
    token = TokenIssuer(_SECRET.encode()).mint(
        "bench", ("students:read", "students:write"), ttl=timedelta(hours=12)
    )
    return {"Authorization": f"Bearer {token}"}


def parse_headers(text: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise SystemExit(f"bench: BENCH_SERVICE_HEADERS line {line!r} is not 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


@dataclass(frozen=True, slots=True)
class App:
    """One app under test: an ASGI target that uvicorn serves, alone on APP_CPU."""

    name: str
    description: str
    target: str
    port: int
    env: dict[str, str]
    factory: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def apps() -> tuple[App, App, App]:
    return (
        App(
            name="service",
            description="this project (FastAPI, SQLAlchemy Core on asyncpg, clean layers)",
            target="interfaces.http.app:create_app",
            factory=True,
            port=18101,
            env=SERVICE_ENV,
            headers=service_headers(),
        ),
        App(
            name="flat",
            description="tutorial-style FastAPI: sync routes, ORM Session per request, psycopg 3, OFFSET",
            target="bench.apps.flat.main:app",
            port=18102,
            env={"DATABASE_URL": f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{DATABASE}"},
        ),
        App(
            name="raw",
            description="Starlette + asyncpg pool, hand-written SQL and JSON, keyset paging",
            target="bench.apps.raw:app",
            port=18103,
            env={"DATABASE_URL": BENCH_DSN},
        ),
    )


def _whole(variable: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(variable, str(default))
    if not raw.isdigit() or int(raw) < minimum:
        raise SystemExit(f"bench: {variable} must be a whole number >= {minimum}, not {raw!r}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Load:
    """How hard and how long wrk pushes each run."""

    duration: int  # seconds measured
    warmup: int  # seconds of the same load first, thrown away
    connections: int
    threads: int
    timeout: int  # seconds before wrk gives up on a response (counted as a socket error)
    # A shared machine: before each run, wait up to quiet_wait seconds for other processes to go
    # quiet, and measure a run that they disturbed again, up to `attempts` times in all.
    quiet_wait: int
    attempts: int


def load_from_env() -> Load:
    return Load(
        duration=_whole("BENCH_DURATION", 10),
        warmup=_whole("BENCH_WARMUP", 3),
        connections=_whole("BENCH_CONNECTIONS", 32),
        threads=1,
        timeout=30,
        quiet_wait=_whole("BENCH_QUIET_WAIT", 60, minimum=0),
        attempts=_whole("BENCH_ATTEMPTS", 3),
    )
