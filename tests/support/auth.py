"""Tokens for tests: one known secret, so tests never touch a developer's .dev-secret file."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from infrastructure.auth.tokens import TokenIssuer
from infrastructure.settings import Settings
from interfaces import scopes

SECRET = "tests-only-secret-never-used-anywhere-else-0123456789"


def settings_for_tests(**overrides: Any) -> Settings:
    # httpx names the in-process app "testserver" (its Host header).
    # No rate limits but where a test is about them: suites send hundreds of requests a second.
    values: dict[str, Any] = {
        "auth_secret": SECRET,
        "environment": "test",
        "allowed_hosts": ("testserver",),
        "rate_limit_enabled": False,
    }
    return Settings(**(values | overrides))


def token(*granted: str, subject: str = "tester", ttl: timedelta = timedelta(hours=1)) -> str:
    return TokenIssuer(SECRET.encode()).mint(subject, granted, ttl=ttl)


def bearer(*granted: str, subject: str = "tester") -> dict[str, str]:
    """An Authorization header granting ``granted`` (every scope when none is named)."""
    return {"Authorization": f"Bearer {token(*(granted or scopes.ALL), subject=subject)}"}
