"""Concurrent retries of one Idempotency-Key through two server processes create one student."""

from __future__ import annotations

import asyncio
import subprocess

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.auth import bearer
from tests.support.databases import throw_away_database
from tests.support.server import STUDENTS, free_port, server_environment, serving


@pytest.mark.slow
async def test_one_key_two_processes_one_student() -> None:
    async with throw_away_database("postgres") as database:
        env = server_environment(DATABASE_URL=database.url)
        migrate = await asyncio.to_thread(
            subprocess.run, [STUDENTS, "migrate"], env=env, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stderr
        body = {"name": "Ada", "email": "ada@example.org", "department": "CS", "cgpa": 9}
        headers = {"idempotency-key": "the-same-key", **bearer()}

        with serving(env, free_port()) as one, serving(env, free_port()) as two:
            async with httpx.AsyncClient(timeout=10) as client:
                responses = await asyncio.gather(
                    *(client.post(f"{base}/students", json=body, headers=headers) for base in [one, two] * 10)
                )

        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {201, 409}, statuses
        created = [r.json()["id"] for r in responses if r.status_code == 201]
        assert created, statuses
        assert len(set(created)) == 1
        in_flight = [r for r in responses if r.status_code == 409]
        assert all(r.json()["type"] == "/problems/idempotency-key-in-flight" for r in in_flight)

        engine = create_async_engine(database.url)
        try:
            async with engine.connect() as connection:
                assert (await connection.execute(sa.text("SELECT count(*) FROM students"))).scalar() == 1
        finally:
            await engine.dispose()
