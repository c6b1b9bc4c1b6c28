"""The OpenAPI document: response headers described once, and the document built once.

Problem documents are described by one ``Problem`` schema in ``components``, referenced from
every error response as ``application/problem+json`` (the only type they are served as).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from interfaces.http.operations import SECURITY_SCHEME

_STRING = {"type": "string"}

ETAG: dict[str, Any] = {
    "ETag": {
        "description": "The student's version as an entity tag; send it back in If-Match",
        "schema": _STRING,
    }
}
LOCATION: dict[str, Any] = {"Location": {"description": "URL of the student", "schema": _STRING}}
REPLAYED: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same key",
        "schema": _STRING,
    }
}
LINK: dict[str, Any] = {
    "Link": {
        "description": 'RFC 8288 link to the next page (`rel="next"`), with the same filters; '
        "absent on the last page",
        "schema": _STRING,
    }
}


_BEARER: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT whose `scope` claim grants students:read, students:write or students:admin. "
    "Locally, `students token students:read students:write` mints one.",
}


def _component_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """JSON schemas of ``models`` and of the models they use, as OpenAPI components."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def install_openapi(app: FastAPI, *extra_models: type[BaseModel]) -> None:
    """Build the document on first use, with ``extra_models`` added to its components."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            built = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            _add_head_operations(built)
            components = built.setdefault("components", {})
            components.setdefault("schemas", {}).update(_component_schemas(*extra_models))
            components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = _BEARER
            app.openapi_schema = built
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _add_head_operations(document: dict[str, Any]) -> None:
    """A HEAD operation beside every GET (interfaces/http/head.py): the GET's parameters, security
    and statuses with their headers, and no content."""
    for item in document.get("paths", {}).values():
        get = item.get("get")
        if get is None or "head" in item:
            continue
        head = {
            key: value for key, value in get.items() if key not in ("responses", "operationId", "summary")
        }
        head["operationId"] = f"{get['operationId']}_head"
        head["summary"] = f"{get.get('summary', 'The GET')}: its status and headers only"
        head["responses"] = {
            status: {key: value for key, value in response.items() if key != "content"}
            for status, response in get["responses"].items()
        }
        item["head"] = head
