"""Where the token keys come from: settings, key files, or a local development secret.

Outside production, a developer who configured nothing still gets a secure service: the first
start writes a random secret to a git-ignored file only its owner can read, and every process
started from the same directory shares it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from infrastructure.auth.tokens import MIN_SECRET_BYTES, TokenIssuer, TokenVerifier
from infrastructure.settings import Settings


class KeyConfigurationError(Exception):
    """A key that cannot be used; the message is one line meant for the operator."""


def uses_development_secret(settings: Settings) -> bool:
    return settings.uses_hmac and settings.auth_secret is None and settings.environment != "production"


def signing_secret(settings: Settings, *, create: bool = True) -> bytes:
    """The HMAC secret: ``AUTH_SECRET``, or outside production the development secret file.

    ``create``: make the development secret if there is none yet (the server does). A command
    that only mints tokens must not: a secret it made would not be the one the server checks.
    """
    if settings.auth_secret is not None:
        return settings.auth_secret.get_secret_value().encode()
    if not uses_development_secret(settings):
        raise KeyConfigurationError("AUTH_SECRET is required in production")
    return _development_secret(settings.dev_secret_file, create=create)


def _development_secret(path: Path, *, create: bool) -> bytes:
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    if not create:
        raise KeyConfigurationError(
            f"there is no development secret at {path.resolve()}: run this where `students serve` "
            "runs (it makes the secret on first start), or set AUTH_SECRET or DEV_SECRET_FILE as the "
            "server has them"
        )
    # Write it whole under a temporary name, then link it into place: a process that starts at
    # the same moment either wins the link or reads the complete file the other one linked.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        raise KeyConfigurationError(f"{path} can be read by other users; chmod 600 it, or delete it")
    secret = path.read_bytes().strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyConfigurationError(
            f"{path} holds fewer than {MIN_SECRET_BYTES} bytes; delete it to make a new one"
        )
    return secret


def token_verifier(settings: Settings) -> TokenVerifier:
    try:
        if settings.uses_hmac:
            return TokenVerifier(
                algorithms=settings.auth_algorithms,
                secret=signing_secret(settings),
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                leeway=timedelta(seconds=settings.auth_leeway),
            )
        return TokenVerifier(
            algorithms=settings.auth_algorithms,
            public_key=_public_key(settings.auth_public_key_file),
            key_set=_key_set(settings.auth_jwks_file),
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            leeway=timedelta(seconds=settings.auth_leeway),
        )
    except (OSError, ValueError, jwt.PyJWTError) as exc:  # PyJWKError and PyJWKSetError included
        raise KeyConfigurationError(f"cannot use the configured token keys: {exc}") from None


def token_issuer(settings: Settings, *, create_secret: bool = True) -> TokenIssuer:
    if not settings.uses_hmac:
        raise KeyConfigurationError(
            "tokens can only be minted with an HMAC secret; ask your identity provider for one"
        )
    return TokenIssuer(
        signing_secret(settings, create=create_secret),
        algorithm=settings.auth_algorithms[0],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )


def _public_key(path: Path | None) -> object:
    if path is None:
        return None
    key = load_pem_public_key(path.read_bytes())
    return key


def _key_set(path: Path | None) -> jwt.PyJWKSet | None:
    if path is None:
        return None
    return jwt.PyJWKSet.from_json(path.read_text())
