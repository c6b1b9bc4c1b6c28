"""Bearer token verification: every way a token can be wrong is refused, with a reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from infrastructure.auth.tokens import Principal, TokenIssuer, TokenRejected, TokenVerifier

SECRET = b"s" * 32
OTHER_SECRET = b"o" * 32


def now() -> datetime:
    return datetime.now(UTC)


def claims(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sub": "clerk-7",
        "scope": "students:read students:write",
        "iat": now(),
        "exp": now() + timedelta(minutes=5),
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def hs256(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def verifier(**options: Any) -> TokenVerifier:
    return TokenVerifier(**({"algorithms": ["HS256"], "secret": SECRET} | options))


def refused(token: str, verifier: TokenVerifier) -> str:
    with pytest.raises(TokenRejected) as excinfo:
        verifier.verify(token)
    return str(excinfo.value)


def test_a_good_token_gives_its_subject_and_scopes() -> None:
    assert verifier().verify(hs256()) == Principal("clerk-7", frozenset({"students:read", "students:write"}))


def test_a_token_without_scope_grants_nothing() -> None:
    assert verifier().verify(hs256(scope=None)).scopes == frozenset()


def test_expired_token() -> None:
    token = hs256(exp=now() - timedelta(seconds=1))
    assert refused(token, verifier()) == "the token has expired"


def test_leeway_tolerates_small_clock_skew() -> None:
    token = hs256(exp=now() - timedelta(seconds=5))
    assert verifier(leeway=timedelta(seconds=30)).verify(token).subject == "clerk-7"


def test_token_not_valid_yet() -> None:
    token = hs256(nbf=now() + timedelta(minutes=1))
    assert refused(token, verifier()) == "the token is not valid yet"


def test_token_without_expiry_is_refused() -> None:
    assert "exp and sub are required" in refused(hs256(exp=None), verifier())


def test_token_without_subject_is_refused() -> None:
    assert "exp and sub are required" in refused(hs256(sub=None), verifier())


@pytest.mark.parametrize("subject", ["a\ud800b", "a\x00b", "a\nb", "a\u2028b", "x" * 256])
def test_a_subject_that_cannot_be_stored_or_logged_is_refused(subject: object) -> None:
    # Found by review: a lone surrogate in sub was accepted, then broke the access line and made
    # an idempotent POST a 500; a NUL did the same on PostgreSQL.
    reason = refused(hs256(sub=subject), verifier())
    assert reason.startswith("the token's subject (sub) must")


def test_wrong_audience() -> None:
    checking = verifier(audience="students-api")
    assert "audience" in refused(hs256(aud="payroll"), checking)
    assert "exp and sub are required" in refused(hs256(), checking)  # no aud at all
    assert checking.verify(hs256(aud="students-api")).subject == "clerk-7"


def test_wrong_issuer() -> None:
    checking = verifier(issuer="https://id.example.org")
    assert "issuer" in refused(hs256(iss="https://evil.example"), checking)
    assert checking.verify(hs256(iss="https://id.example.org")).subject == "clerk-7"


def test_signed_with_another_key() -> None:
    token = jwt.encode(claims(), OTHER_SECRET, algorithm="HS256")
    assert refused(token, verifier()) == "the token's signature does not verify"


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused() -> None:
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment({**claims(), 'iat': 0, 'exp': 2**40})}."
    assert "algorithm" in refused(unsigned, verifier())


def test_tampered_payload_is_refused() -> None:
    header, _, signature = hs256().split(".")
    widened = _segment({**claims(), "scope": "students:admin", "iat": 0, "exp": 2**40})
    assert refused(f"{header}.{widened}.{signature}", verifier()) == "the token's signature does not verify"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x", "é" * 10])
def test_garbage_is_malformed(garbage: str) -> None:
    assert refused(garbage, verifier()) == "the token is malformed"


def test_huge_token_is_refused_before_decoding() -> None:
    assert refused("a" * 10_000, verifier()) == "the token is too long"


def test_algorithm_confusion_hmac_signed_with_the_public_key() -> None:
    # The classic attack: sign HS256 with the server's public key as the "secret".
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment({**claims(), 'iat': 0, 'exp': 2**40})}"
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    rs256 = TokenVerifier(algorithms=["RS256"], public_key=private.public_key())
    assert "algorithm" in refused(forged, rs256)
    assert rs256.verify(jwt.encode(claims(), private, algorithm="RS256")).subject == "clerk-7"


def test_es256_with_a_key_set_picks_the_key_by_kid() -> None:
    current, retired = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    key_set = jwt.PyJWKSet.from_dict(
        {
            "keys": [
                {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k.public_key())), "kid": kid, "alg": "ES256"}
                for kid, k in (("current", current), ("retired", retired))
            ]
        }
    )
    es256 = TokenVerifier(algorithms=["ES256"], key_set=key_set)
    for kid, key in (("current", current), ("retired", retired)):
        token = jwt.encode(claims(), key, algorithm="ES256", headers={"kid": kid})
        assert es256.verify(token).subject == "clerk-7"
    wrong_key = jwt.encode(claims(), retired, algorithm="ES256", headers={"kid": "current"})
    assert refused(wrong_key, es256) == "the token's signature does not verify"
    unknown = jwt.encode(claims(), current, algorithm="ES256", headers={"kid": "elsewhere"})
    assert "not in the configured key set" in refused(unknown, es256)
    assert "names no key" in refused(jwt.encode(claims(), current, algorithm="ES256"), es256)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithms": []}, "at least one algorithm"),
        ({"algorithms": ["HS256", "RS256"]}, "not both"),
        ({"algorithms": ["none"]}, "unsupported algorithm none"),
        ({"algorithms": ["HS256"], "secret": b"short"}, "at least 32 bytes"),
        ({"algorithms": ["HS256"]}, "at least 32 bytes"),
        ({"algorithms": ["RS256"]}, "public key or a JWKS"),
    ],
)
def test_unsafe_configurations_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenVerifier(**options)


def test_minted_tokens_verify_and_expire() -> None:
    issuer = TokenIssuer(SECRET, issuer="students", audience="students-api")
    checking = verifier(issuer="students", audience="students-api")
    token = issuer.mint("cli", ["students:read"], ttl=timedelta(minutes=1))
    assert checking.verify(token) == Principal("cli", frozenset({"students:read"}))
    stale = issuer.mint("cli", ["students:read"], ttl=timedelta(minutes=1), now=now() - timedelta(hours=1))
    assert refused(stale, checking) == "the token has expired"


def test_only_hmac_tokens_can_be_minted() -> None:
    with pytest.raises(ValueError, match="only HMAC"):
        TokenIssuer(SECRET, algorithm="RS256")


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    checking = verifier()
    token = hs256(exp=now() + timedelta(minutes=5))
    assert checking.verify(token).subject == "clerk-7"
    later = time.time() + 301
    monkeypatch.setattr("infrastructure.auth.tokens.time.time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(later))
    assert refused(token, checking) == "the token has expired"


def test_a_remembered_token_is_not_valid_before_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    checking = verifier()
    token = hs256(nbf=now() - timedelta(minutes=1))
    assert checking.verify(token).subject == "clerk-7"
    earlier = time.time() - 120
    monkeypatch.setattr("infrastructure.auth.tokens.time.time", lambda: earlier)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(earlier))
    assert refused(token, checking) == "the token is not valid yet"


def test_remembered_tokens_are_bounded() -> None:
    checking = verifier()
    for n in range(5000):
        checking.verify(hs256(sub=f"clerk-{n}"))
    assert len(checking._verified) <= 4096


class _FrozenDatetime:
    """Stands in for PyJWT's ``datetime`` so that its own clock reads ``at``."""

    def __init__(self, at: float) -> None:
        self._at = at

    def now(self, tz: Any = None) -> datetime:
        return datetime.fromtimestamp(self._at, tz)

    def __getattr__(self, name: str) -> Any:
        return getattr(datetime, name)


def test_a_signed_token_whose_exp_is_no_usable_time_is_refused() -> None:
    # Found by review: float(exp) overflowed, and the request was answered 500.
    token = jwt.encode({**claims(), "exp": 10**400}, SECRET, algorithm="HS256")
    assert refused(token, verifier()) == "the token's nbf or exp is not a usable time"
