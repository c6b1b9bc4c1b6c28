"""(b) The floor: Starlette, an asyncpg pool, hand-written SQL and hand-built JSON, keyset paging.

It answers GET /students/{id} and GET /students?limit=&cursor= in creation (id) order, with the
service's cursor format, so the same cursor URL works against both.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_COLUMNS = "id, name, email, department, cgpa, created_at, updated_at, version"
# Also the statement bench/inprocess.py times asyncpg alone with.
BY_ID = f"SELECT {_COLUMNS} FROM students WHERE id = $1"
_FIRST_PAGE = f"SELECT {_COLUMNS} FROM students ORDER BY id LIMIT $1"
_NEXT_PAGE = f"SELECT {_COLUMNS} FROM students WHERE id > $1 ORDER BY id LIMIT $2"


def _json(content: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def _error(status_code: int, detail: str) -> Response:
    return _json({"detail": detail}, status_code)


def _document(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "email": row["email"],
        "department": row["department"],
        "cgpa": float(row["cgpa"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }


def _encode_cursor(last_id: uuid.UUID) -> str:
    payload = json.dumps({"v": 1, "o": "id", "k": [str(last_id)]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: str) -> uuid.UUID | None:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if payload["v"] != 1 or payload["o"] != "id":
            return None
        return uuid.UUID(payload["k"][0])
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError):
        return None


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def get_student(request: Request) -> Response:
    try:
        student_id = uuid.UUID(request.path_params["student_id"])
    except ValueError:
        return _error(422, "not a student id")
    row = await _pool(request).fetchrow(BY_ID, student_id)
    if row is None:
        return _error(404, "Student not found")
    return _json(_document(row))


async def list_students(request: Request) -> Response:
    try:
        limit = int(request.query_params.get("limit", "50"))
    except ValueError:
        return _error(422, "limit must be an integer")
    if not 1 <= limit <= 200:
        return _error(422, "limit must be between 1 and 200")
    cursor = request.query_params.get("cursor")
    if cursor is None:
        rows = await _pool(request).fetch(_FIRST_PAGE, limit + 1)
    else:
        after = _decode_cursor(cursor)
        if after is None:
            return _error(422, "not a cursor this listing issued")
        rows = await _pool(request).fetch(_NEXT_PAGE, after, limit + 1)
    items = rows[:limit]
    next_cursor = _encode_cursor(items[-1]["id"]) if len(rows) > limit else None
    return _json({"items": [_document(row) for row in items], "next_cursor": next_cursor})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    # The same bounds as the service's SQLAlchemy pool (10 kept, up to 10 more under load).
    async with asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=10, max_size=20) as pool:
        app.state.pool = pool
        yield


app = Starlette(
    routes=[
        Route("/students", list_students, methods=["GET"]),
        Route("/students/{student_id}", get_student, methods=["GET"]),
    ],
    lifespan=lifespan,
)
