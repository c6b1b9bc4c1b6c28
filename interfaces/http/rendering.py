"""Turning results into HTTP responses, fast: plain dicts rendered once by orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from domain.student import Student


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def student_document(student: Student) -> dict[str, Any]:
    return {
        "id": str(student.id),  # asyncpg hands back its own UUID subclass, which orjson refuses
        "name": student.name,
        "email": student.email,
        "department": student.department,
        # Two decimals at most, within 0-10: a JSON number round-trips them exactly.
        "cgpa": float(student.cgpa),
        "created_at": student.created_at,
        "updated_at": student.updated_at,
        "version": student.version,
    }
