"""Settings read from the environment (and an optional ``.env`` file) with pydantic-settings."""

from __future__ import annotations

import importlib.util
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from infrastructure.auth.tokens import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, secret_weakness

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./students.db"
# What a URL's path may hold as it is (RFC 3986 pchar and "/"): anything else must be encoded.
_ROOT_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")
_URL_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")
# RFC 7518 3.2: an HMAC key at least as long as the hash's output.
_HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_ASYNC_DRIVERS = {"aiosqlite", "asyncpg", "asyncmy", "aiomysql", "psycopg"}
# A comma-separated environment variable read as a list (pydantic-settings would expect JSON).
CommaList = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy async URL")
    # Connections each process keeps open. Overflow connections are closed as soon as they are
    # returned, so under steady load they are opened and closed again and again: 0 by default.
    db_pool_size: int = Field(20, ge=1, le=1000)
    db_max_overflow: int = Field(0, ge=0, le=1000)
    db_pool_timeout: float = Field(5.0, gt=0, le=600, description="seconds to wait for a connection")
    # A statement with no answer by then is abandoned (503): a black-holed network never answers.
    db_statement_timeout: float = Field(10.0, gt=0, le=3600, description="seconds")
    db_pool_pre_ping: bool = False
    # PostgreSQL: run compiled statements on asyncpg's connection (infrastructure/sqlalchemy/driver.py).
    db_driver_statements: bool = True
    db_pool_recycle: int = Field(1800, ge=-1, description="seconds; -1 never recycles")
    db_echo: bool = False
    # How long /readyz waits for the database before it answers 503.
    readiness_timeout: float = Field(2.0, gt=0, le=60)
    # Idempotency-Key records: how long they are replayed, and how often expired ones are purged.
    idempotency_ttl: int = Field(86400, ge=60, description="seconds")
    idempotency_purge_interval: int = Field(600, ge=0, description="seconds; 0 turns the purge off")

    # "production" refuses to start without a configured, strong key; elsewhere a local
    # development secret is made on first use (see infrastructure/auth/keys.py).
    environment: Literal["development", "test", "production"] = "development"
    auth_secret: SecretStr | None = None
    auth_algorithms: CommaList = ("HS256",)
    auth_public_key_file: Path | None = None
    auth_jwks_file: Path | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_leeway: int = Field(0, ge=0, le=300, description="seconds of clock skew tolerated")
    dev_secret_file: Path = Path(".dev-secret")

    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    # Rate limits (interfaces/http/rate_limit.py): requests a second and at once, per caller (the
    # token's subject) and per client address; in this process, or shared through Redis when
    # RATE_LIMIT_STORAGE_URL is set (redis://host:6379/0), so that N processes share one budget.
    rate_limit_enabled: bool = True
    rate_limit_rate: float = Field(
        100.0, ge=0.01, le=1_000_000, allow_inf_nan=False, description="requests a second per caller"
    )
    rate_limit_burst: int = Field(200, ge=1, le=10_000_000)
    rate_limit_address_rate: float = Field(
        200.0, ge=0.01, le=1_000_000, allow_inf_nan=False, description="per client address"
    )
    rate_limit_address_burst: int = Field(400, ge=1, le=10_000_000)
    rate_limit_storage_url: str | None = None
    # A Redis that has not answered by then is taken as failed: each process counts alone a while.
    rate_limit_storage_timeout: float = Field(0.25, gt=0, le=10, allow_inf_nan=False, description="seconds")

    # Bulk imports (POST /students/import, `students import`): the largest body the API takes,
    # how many bad rows a rejection lists, how long one of its statements may run (the final
    # INSERT of a million rows takes seconds, not the milliseconds of a request), and how many
    # may run at once in one process (each on a connection of its own, outside the request pool).
    import_max_bytes: int = Field(1024**3, ge=1024, le=64 * 1024**3)
    import_max_errors: int = Field(100, ge=1, le=10_000)
    import_statement_timeout: float = Field(600.0, gt=0, le=86_400, description="seconds")
    import_concurrency: int = Field(2, ge=1, le=100)

    # Where clients reach the service; absolute URLs (Location, Link) are built on it. Without
    # it they are relative references, never built from a Host header a client chose.
    public_base_url: str | None = None
    # Host header values served; others are 400. Empty: the served host, localhost, and the host
    # of PUBLIC_BASE_URL (see interfaces/http/hosts.py). "*" serves any.
    allowed_hosts: CommaList = ()
    # Proxies whose X-Forwarded-For/-Proto are believed (uvicorn's); empty: none.
    forwarded_allow_ips: CommaList = ()
    # The path prefix a proxy serves the API under, such as /api (interfaces/http/root_path.py):
    # /api/students is the students whether the proxy passes the prefix on or strips it.
    root_path: str = ""
    # On SIGTERM: keep serving this long while /readyz says 503, so a balancer stops sending; then
    # stop accepting, and give requests still running this long to finish.
    shutdown_drain: float = Field(5.0, ge=0, le=3600, description="seconds")
    shutdown_timeout: float = Field(30.0, gt=0, le=3600, description="seconds")

    # Logs go to standard error: JSON lines, readable lines, or "auto" (readable on a terminal).
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = True
    # Browser origins allowed to call the API; empty (the default) turns CORS off.
    cors_origins: CommaList = ()

    @property
    def db_connections(self) -> int:
        """The most connections a process may hold at once."""
        return self.db_pool_size + self.db_max_overflow

    def for_imports(self) -> Settings:
        """These settings as a bulk import's own connections use them (see the import_ fields)."""
        return self.model_copy(
            update={
                "db_statement_timeout": self.import_statement_timeout,
                "db_pool_size": self.import_concurrency,
                "db_max_overflow": 0,
            }
        )

    @property
    def idempotency_ttl_timedelta(self) -> timedelta:
        return timedelta(seconds=self.idempotency_ttl)

    @field_validator("database_url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("is not a database URL (e.g. sqlite+aiosqlite:///./students.db)") from None
        try:
            port = url.port
        except ValueError:
            port = -1
        if port is not None and not 0 < port <= 65535:
            raise ValueError("names a port that is not 1-65535")
        driver = url.get_driver_name()
        if driver not in _ASYNC_DRIVERS:
            raise ValueError(
                f"needs an async driver, one of {', '.join(sorted(_ASYNC_DRIVERS))} "
                "(e.g. postgresql+asyncpg://user@host/db)"
            )
        if importlib.util.find_spec(driver) is None:
            raise ValueError(f"names the driver {driver}, which is not installed (pip install {driver})")
        return value

    @field_validator("auth_algorithms", "cors_origins", "allowed_hosts", "forwarded_allow_ips", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _rate_limit_storage(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        try:
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            parts = parts._replace(scheme="")
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0")
        return value.strip()

    @field_validator("root_path")
    @classmethod
    def _root_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        # Unreserved characters only: the prefix is compared with the decoded path, and sent in links.
        if value and not _ROOT_PATH.fullmatch(value):
            raise ValueError("must be a URL path such as /api (letters, digits, - . _ ~ between slashes)")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL, e.g. https://students.example.org")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not carry a query, a fragment or credentials")
        try:
            parts.port  # noqa: B018 - it raises for a port that is not a number of 0-65535
        except ValueError:
            raise ValueError("names a port that is not a number of 1-65535") from None
        if not _URL_PATH.fullmatch(parts.path):
            raise ValueError("has characters a URL path cannot hold (percent-encode them)")
        return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"

    @field_validator("auth_algorithms")
    @classmethod
    def _known_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - HMAC_ALGORITHMS - ASYMMETRIC_ALGORITHMS)
        if unknown or not value:
            raise ValueError(
                f"accepts HS256/384/512, RS*, PS*, ES*, EdDSA; not {', '.join(unknown) or 'nothing'}"
            )
        if set(value) & HMAC_ALGORITHMS and set(value) & ASYMMETRIC_ALGORITHMS:
            raise ValueError("name either HMAC (HS*) or public-key algorithms, not both")
        return value

    @field_validator("auth_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        weakness = secret_weakness(value.get_secret_value().encode()) if value is not None else None
        if weakness is not None:
            raise ValueError(weakness)
        return value

    @model_validator(mode="after")
    def _keys_match_algorithms(self) -> Settings:
        if self.uses_hmac and self.auth_secret is not None:
            needed = max(_HMAC_KEY_BYTES[algorithm] for algorithm in self.auth_algorithms)
            if len(self.auth_secret.get_secret_value().encode()) < needed:
                algorithms = ",".join(self.auth_algorithms)
                raise ValueError(f"AUTH_SECRET must be at least {needed} bytes for {algorithms}")
        if self.uses_hmac:
            if self.auth_public_key_file or self.auth_jwks_file:
                raise ValueError("AUTH_PUBLIC_KEY_FILE / AUTH_JWKS_FILE need public-key AUTH_ALGORITHMS")
            if self.environment == "production" and self.auth_secret is None:
                raise ValueError("AUTH_SECRET is required in production (at least 32 random bytes)")
        elif (self.auth_public_key_file is None) == (self.auth_jwks_file is None):
            algorithms = ",".join(self.auth_algorithms)
            raise ValueError(f"{algorithms} needs exactly one of AUTH_PUBLIC_KEY_FILE or AUTH_JWKS_FILE")
        return self

    @property
    def uses_hmac(self) -> bool:
        return set(self.auth_algorithms) <= HMAC_ALGORITHMS


class SettingsError(Exception):
    """A setting that cannot be used; its message is one line meant for the operator."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(f"invalid settings: {'; '.join(_describe(e) for e in exc.errors())}") from None


def _describe(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    name = ".".join(str(part) for part in error["loc"]).upper()
    # A rule across several settings names them in its message; a field's rule is prefixed with it.
    return f"{name}: {message}" if name else message
