"""Response headers, described once for the OpenAPI document."""

from __future__ import annotations

from typing import Any

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
