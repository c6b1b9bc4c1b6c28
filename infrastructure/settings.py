"""Settings read from the environment (and an optional ``.env`` file) with pydantic-settings."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./students.db"
_ASYNC_DRIVERS = {"aiosqlite", "asyncpg", "asyncmy", "aiomysql", "psycopg"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy async URL")
    db_pool_size: int = Field(10, ge=1, le=1000)
    db_max_overflow: int = Field(10, ge=0, le=1000)
    db_pool_timeout: float = Field(5.0, gt=0, le=600, description="seconds to wait for a connection")
    db_pool_pre_ping: bool = False
    db_pool_recycle: int = Field(1800, ge=-1, description="seconds; -1 never recycles")
    db_echo: bool = False
    # How long /readyz waits for the database before it answers 503.
    readiness_timeout: float = Field(2.0, gt=0, le=60)
    # Idempotency-Key records: how long they are replayed, and how often expired ones are purged.
    idempotency_ttl: int = Field(86400, ge=60, description="seconds")
    idempotency_purge_interval: int = Field(600, ge=0, description="seconds; 0 turns the purge off")

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
        if url.get_driver_name() not in _ASYNC_DRIVERS:
            raise ValueError(
                f"needs an async driver, one of {', '.join(sorted(_ASYNC_DRIVERS))} "
                "(e.g. postgresql+asyncpg://user@host/db)"
            )
        return value


class SettingsError(Exception):
    """A setting that cannot be used; its message is one line meant for the operator."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
