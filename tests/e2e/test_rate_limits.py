"""Rate limits: a caller's budget, an address's budget, and one budget shared by two processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from tests.support.app_fixtures import in_memory_client
from tests.support.auth import bearer, settings_for_tests
from tests.support.server import free_port, server_environment, serving, students

LIMITS = {"rate_limit_enabled": True, "rate_limit_rate": 1, "rate_limit_burst": 3}


@pytest.fixture
async def limited() -> AsyncIterator[httpx.AsyncClient]:
    async with in_memory_client(
        **LIMITS, rate_limit_address_rate=1000, rate_limit_address_burst=1000
    ) as client:
        yield client


async def test_a_caller_past_its_burst_is_429_with_when_to_come_back(limited: httpx.AsyncClient) -> None:
    alice, bob = bearer(subject="alice"), bearer(subject="bob")
    for _ in range(3):
        assert (await limited.get("/students", headers=alice)).status_code == 200
    refused = await limited.get("/students", headers=alice)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3
    assert _fields(refused.headers["RateLimit-Policy"])["caller"] == {"q": 3, "w": 3}
    assert _fields(refused.headers["RateLimit"])["caller"]["r"] == 0
    # Another caller has a budget of its own.
    assert (await limited.get("/students", headers=bob)).status_code == 200


def _fields(value: str) -> dict[str, dict[str, int]]:
    """An IETF RateLimit or RateLimit-Policy field, by policy: '"caller";r=2;t=1' -> {"caller": {...}}."""
    fields = {}
    for item in value.split(","):
        name, *parameters = item.strip().split(";")
        fields[name.strip('"')] = {key: int(number) for key, number in (p.split("=") for p in parameters)}
    return fields


async def test_every_answer_says_what_is_left_of_each_budget(limited: httpx.AsyncClient) -> None:
    alice = bearer(subject="alice")
    answers = [await limited.get("/students", headers=alice) for _ in range(3)]
    assert [_fields(a.headers["RateLimit-Policy"]) for a in answers] == [
        {"caller": {"q": 3, "w": 3}, "address": {"q": 1000, "w": 1}}
    ] * 3
    left = [_fields(a.headers["RateLimit"]) for a in answers]
    assert [fields["caller"]["r"] for fields in left] == [2, 1, 0]
    # The address's budget refills at 1000/s, so a few may be back already.
    assert all(990 <= fields["address"]["r"] <= 999 for fields in left)
    # Seconds until the budget is whole again: one spent request is a second's refill at 1/s.
    assert 1 <= left[0]["caller"]["t"] <= left[2]["caller"]["t"] <= 3
    # A refusal by authentication has spent the address's budget only.
    refused = await limited.get("/students", headers={"Authorization": "Bearer junk"})
    assert refused.status_code == 401
    assert set(_fields(refused.headers["RateLimit"])) == {"address"}
    # Probes spend nothing and say nothing.
    probe = await limited.get("/healthz")
    assert "RateLimit" not in probe.headers
    assert "RateLimit-Policy" not in probe.headers


async def test_an_address_past_its_burst_is_429_before_any_token_is_looked_at() -> None:
    async with in_memory_client(
        rate_limit_enabled=True, rate_limit_address_rate=1, rate_limit_address_burst=2
    ) as client:
        statuses = [
            (await client.get("/students", headers={"Authorization": "Bearer junk"})).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 429, 429]
        # Probes are never held back: an orchestrator's check must not fail for others' traffic.
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/docs")).status_code == 429


async def test_limits_off_refuse_nothing() -> None:
    async with in_memory_client(rate_limit_enabled=False, rate_limit_rate=1, rate_limit_burst=1) as client:
        statuses = {(await client.get("/students", headers=bearer())).status_code for _ in range(5)}
        assert statuses == {200}


@pytest.mark.slow
async def test_two_processes_on_one_redis_share_one_budget(tmp_path: Path) -> None:
    env = server_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'students.db'}",
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_RATE="1",
        RATE_LIMIT_BURST="4",
        RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:6379/0",
    )
    assert students("migrate", env=env).returncode == 0
    caller = bearer(subject=f"shared-{uuid.uuid4().hex}")  # a budget no other run has touched
    with serving(env, free_port()) as one, serving(env, free_port()) as two:
        async with httpx.AsyncClient(timeout=10) as client:
            answers = [await client.get(f"{base}/students", headers=caller) for base in [one, two] * 4]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:4] == [200, 200, 200, 200]
    assert statuses[4:] == [429, 429, 429, 429]
    # What is left is counted across both processes.
    left = [_fields(answer.headers["RateLimit"])["caller"]["r"] for answer in answers[:4]]
    assert left == [3, 2, 1, 0]


def test_settings_refuse_budgets_no_one_could_mean() -> None:
    for bad in (
        {"rate_limit_rate": 1e-300},
        {"rate_limit_rate": float("nan")},
        {"rate_limit_storage_url": "redis://h:abc/0"},
    ):
        with pytest.raises(ValidationError):
            settings_for_tests(**bad)
