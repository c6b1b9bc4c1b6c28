"""Talking to the API in tests: the student every test starts from, and what a problem must be."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM = "application/problem+json"
ADA = {"name": "Ada Lovelace", "email": "Ada@Example.org", "department": "cs", "cgpa": 8.5}


async def create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/students", json={**ADA, **overrides})
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = dict(response.json())
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= body.keys()
    assert "Traceback" not in response.text
    return body


def current(student: dict[str, Any]) -> dict[str, str]:
    """The If-Match header for the student as last read."""
    return {"if-match": f'"{student["version"]}"'}


async def count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/students", params={"limit": 200})).json()["items"])
