"""Bearer tokens: JSON Web Tokens verified (and, for HS*, minted) with PyJWT.

The accepted algorithms are pinned by configuration and never read from the token: a token that
says ``alg: none``, or names an HMAC algorithm to be checked against a public key, is refused.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MIN_SECRET_BYTES = 32
# Fewer different bytes than this in 32 or more is a pattern ("aaaa...", "abcabc..."), not a secret.
_MIN_DISTINCT_BYTES = 12


def secret_weakness(secret: bytes) -> str | None:
    """Why ``secret`` is too weak to sign tokens with, or None."""
    if len(secret) < MIN_SECRET_BYTES:
        return f"must be at least {MIN_SECRET_BYTES} bytes"
    if len(set(secret)) < _MIN_DISTINCT_BYTES:
        return "is too repetitive to be a secret; use random bytes, e.g. `openssl rand -base64 48`"
    return None


# Claims every token must carry: who it is for (idempotency keys are scoped to it) and when it ends.
_REQUIRED_CLAIMS = ("exp", "sub")
_TIME_CLAIMS = ("exp", "nbf", "iat")
_MAX_TOKEN_LENGTH = 8192
# Verified tokens remembered per process (see TokenVerifier.verify); at most this many.
_REMEMBERED_TOKENS = 4096


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: the token's subject and the scopes it grants."""

    subject: str
    scopes: frozenset[str]


class TokenRejected(Exception):
    """The token cannot be trusted; the message says why, in words fit for the client."""


# PyJWT's exceptions, from the most specific, with what the client is told.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not meant for this service (audience)"),
    (jwt.InvalidIssuerError, "the token was issued by an issuer this service does not trust"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim (exp and sub are required)"),
    (jwt.InvalidAlgorithmError, "the token is signed with an algorithm this service does not accept"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.PyJWTError, "the token is malformed"),
)


def _reason(error: Exception) -> str:
    return next(text for kind, text in _REASONS if isinstance(error, kind))


class TokenVerifier:
    """Checks signature, ``exp``, ``nbf``, and ``iss``/``aud`` when configured."""

    def __init__(
        self,
        *,
        algorithms: Iterable[str],
        secret: bytes | None = None,
        public_key: Any = None,
        key_set: jwt.PyJWKSet | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: timedelta = timedelta(0),
    ) -> None:
        self._algorithms = sorted(algorithms)
        if not self._algorithms:
            raise ValueError("at least one algorithm must be accepted")
        unsupported = set(self._algorithms) - HMAC_ALGORITHMS - ASYMMETRIC_ALGORITHMS
        if unsupported:
            raise ValueError(f"unsupported algorithm {', '.join(sorted(unsupported))}")
        hmac = set(self._algorithms) <= HMAC_ALGORITHMS
        if not hmac and not set(self._algorithms) <= ASYMMETRIC_ALGORITHMS:
            # Mixing both is how algorithm confusion attacks start: refuse the configuration.
            raise ValueError("accept either HMAC (HS*) or public-key algorithms, not both")
        if hmac and (secret is None or len(secret) < MIN_SECRET_BYTES):
            raise ValueError(f"HMAC algorithms need a secret of at least {MIN_SECRET_BYTES} bytes")
        if not hmac and public_key is None and key_set is None:
            raise ValueError("public-key algorithms need a public key or a JWKS")
        self._secret = secret
        self._public_key = public_key
        self._key_set = key_set
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        # token -> (principal, not before, expires), as Unix times.
        self._verified: dict[str, tuple[Principal, float, float]] = {}
        self._options: Any = {"require": [*_REQUIRED_CLAIMS, *(["iss"] if issuer else [])]}
        if audience is not None:
            self._options["require"].append("aud")
        else:
            # No audience configured: a token naming one is not refused for that alone.
            self._options["verify_aud"] = False

    def verify(self, token: str) -> Principal:
        """The token's caller, or ``TokenRejected`` saying why not.

        A client sends the same token with every request until it expires, and checking its
        signature costs more than a point read's share of the CPU. A token never changes, so
        once verified it is remembered; only its time window is checked again on each use.
        """
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, not_before, expires = remembered
            now, leeway = time.time(), self._leeway.total_seconds()
            if not_before - leeway <= now < expires + leeway:
                return principal
        principal, not_before, expires = self._decode(token)
        if len(self._verified) >= _REMEMBERED_TOKENS:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (principal, not_before, expires)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float, float]:
        if len(token) > _MAX_TOKEN_LENGTH:
            raise TokenRejected("the token is too long")
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=self._algorithms,
                options=self._options,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(_reason(exc)) from None
        # PyJWT takes a string of digits for a time too; RFC 7519 says a NumericDate is a number.
        for claim in _TIME_CLAIMS:
            value = claims.get(claim)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TokenRejected(f"the token's {claim} must be a number (a NumericDate)")
        try:
            window = float(claims.get("nbf", 0)), float(claims["exp"])
        except OverflowError:
            raise TokenRejected("the token's nbf or exp is not a usable time") from None
        return _principal(claims), *window

    def _key_for(self, token: str) -> Any:
        if self._secret is not None:
            return self._secret
        if self._key_set is None:
            return self._public_key
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise TokenRejected(_reason(exc)) from None
        if not isinstance(key_id, str):
            raise TokenRejected("the token names no key (kid) of the configured key set")
        try:
            return self._key_set[key_id]
        except KeyError:
            raise TokenRejected("the token's key (kid) is not in the configured key set") from None


# What no caller's name may hold: it is stored (Idempotency-Key records) and written to logs.
_UNSTORABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def subject_problem(subject: object) -> str | None:
    """Why ``subject`` cannot be a caller's name (1-255 printable characters), or None."""
    if not isinstance(subject, str) or not 1 <= len(subject) <= 255:
        return "must be a string of 1-255 characters"
    if any(unicodedata.category(ch) in _UNSTORABLE for ch in subject):
        return "must not contain control characters, line separators or lone surrogates"
    return None


def _principal(claims: Mapping[str, Any]) -> Principal:
    subject = claims.get("sub")
    scope = claims.get("scope", "")
    problem = subject_problem(subject)
    if problem is not None or not isinstance(subject, str):
        raise TokenRejected(f"the token's subject (sub) {problem}")
    if not isinstance(scope, str):
        raise TokenRejected("the token's scope claim must be a space-separated string")
    return Principal(subject=subject, scopes=frozenset(scope.split()))


class TokenIssuer:
    """Mints HMAC-signed tokens from the configured secret (the CLI and the development banner)."""

    def __init__(
        self,
        secret: bytes,
        *,
        algorithm: str = "HS256",
        issuer: str | None = None,
        audience: str | None = None,
    ) -> None:
        if algorithm not in HMAC_ALGORITHMS:
            raise ValueError("only HMAC tokens can be minted here; a public-key issuer holds its own key")
        self._secret = secret
        self._algorithm = algorithm
        self._issuer = issuer
        self._audience = audience

    def mint(
        self, subject: str, scopes: Iterable[str], *, ttl: timedelta, now: datetime | None = None
    ) -> str:
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": subject,
            "scope": " ".join(sorted(set(scopes))),
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
        }
        if self._issuer is not None:
            claims["iss"] = self._issuer
        if self._audience is not None:
            claims["aud"] = self._audience
        return jwt.encode(claims, self._secret, algorithm=self._algorithm)
