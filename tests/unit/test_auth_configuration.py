"""Where keys come from, which configurations are refused, and the scope check of each route."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from infrastructure.auth.keys import KeyConfigurationError, signing_secret, token_issuer, token_verifier
from infrastructure.auth.tokens import Principal
from infrastructure.settings import Settings, SettingsError, load_settings
from interfaces.http.operations import PRINCIPAL_KEY, Operation
from interfaces.scopes import ADMIN, READ, WRITE


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(**({"dev_secret_file": tmp_path / ".dev-secret"} | values))


def test_development_secret_is_made_once_private_and_reused(tmp_path: Path) -> None:
    config = settings(tmp_path)
    first = signing_secret(config)
    path = tmp_path / ".dev-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert signing_secret(config) == first
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_processes_starting_together_share_one_development_secret(tmp_path: Path) -> None:
    config = settings(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: signing_secret(config), range(16)))
    assert len(secrets) == 1


def test_a_truncated_development_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".dev-secret"
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(KeyConfigurationError, match="delete it"):
        signing_secret(settings(tmp_path))


def test_a_development_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    config = settings(tmp_path)
    signing_secret(config)
    (tmp_path / ".dev-secret").chmod(0o644)
    with pytest.raises(KeyConfigurationError, match="chmod 600"):
        signing_secret(config)


def test_an_empty_key_set_is_one_clear_error(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    config = settings(tmp_path, auth_algorithms="ES256", auth_jwks_file=jwks)
    with pytest.raises(KeyConfigurationError, match="cannot use the configured token keys"):
        token_verifier(config)


def test_a_configured_secret_wins_and_no_file_is_written(tmp_path: Path) -> None:
    config = settings(tmp_path, auth_secret="a-configured-secret-0123456789-xyz")
    assert signing_secret(config) == b"a-configured-secret-0123456789-xyz"
    assert not (tmp_path / ".dev-secret").exists()


def test_production_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="AUTH_SECRET is required in production"):
        load_settings()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"AUTH_SECRET": "x" * 31}, "AUTH_SECRET: must be at least 32 bytes"),
        ({"AUTH_SECRET": "a" * 32}, "AUTH_SECRET: is too repetitive to be a secret"),
        ({"AUTH_SECRET": "abc" * 20, "ENVIRONMENT": "production"}, "AUTH_SECRET: is too repetitive"),
        ({"AUTH_ALGORITHMS": "none"}, "AUTH_ALGORITHMS"),
        ({"AUTH_ALGORITHMS": "HS256,RS256"}, "not both"),
        ({"AUTH_ALGORITHMS": "RS256"}, "exactly one of AUTH_PUBLIC_KEY_FILE or AUTH_JWKS_FILE"),
        ({"AUTH_PUBLIC_KEY_FILE": "/k.pem"}, "need public-key AUTH_ALGORITHMS"),
        ({"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES"),
    ],
)
def test_unsafe_settings_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_comma_lists_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("AUTH_ALGORITHMS", "HS384,HS512")
    loaded = load_settings()
    assert loaded.cors_origins == ("https://a.example", "https://b.example")
    assert loaded.auth_algorithms == ("HS384", "HS512")


def test_public_key_files_that_cannot_be_read_are_one_clear_error(tmp_path: Path) -> None:
    config = settings(tmp_path, auth_algorithms="RS256", auth_public_key_file=tmp_path / "missing.pem")
    with pytest.raises(KeyConfigurationError, match="cannot use the configured token keys"):
        token_verifier(config)
    with pytest.raises(KeyConfigurationError, match="HMAC secret"):
        token_issuer(config)


def test_minted_tokens_verify_against_the_same_settings(tmp_path: Path) -> None:
    config = settings(tmp_path, auth_issuer="students", auth_audience="api")
    token = token_issuer(config).mint("cli", [READ], ttl=timedelta(minutes=1))
    assert token_verifier(config).verify(token) == Principal("cli", frozenset({READ}))


async def _endpoint() -> None: ...


def refusal(principal: Principal | None, method: str = "GET", **marks: Any) -> Any:
    """What an operation of ``method`` answers before its body is read, for this caller."""
    endpoint = _endpoint
    for name, value in marks.items():
        endpoint.__dict__[name] = value
    try:
        operation = Operation("/x", endpoint, methods=[method])
    finally:
        for name in marks:
            endpoint.__dict__.pop(name)
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": "/x",
        "headers": [],
        "query_string": b"",
    }
    if principal is not None:
        scope[PRINCIPAL_KEY] = principal
    return operation._refusal(scope)


def test_a_scope_the_token_grants_lets_the_caller_through() -> None:
    assert refusal(Principal("r", frozenset({READ}))) is None
    assert refusal(Principal("w", frozenset({WRITE})), "DELETE") is None


def test_a_missing_scope_is_403_naming_it() -> None:
    response = refusal(Principal("r", frozenset({READ})), "POST")
    assert response.status_code == 403
    assert WRITE.encode() in response.body
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="students", error="insufficient_scope", scope="{WRITE}"'
    )


def test_an_operation_can_ask_for_another_scope_or_none() -> None:
    assert refusal(Principal("w", frozenset({WRITE})), "POST", access=(ADMIN,)).status_code == 403
    assert refusal(None, access=()) is None  # public
    assert refusal(None).status_code == 401  # private, and nobody verified: fail closed
