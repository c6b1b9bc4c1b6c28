"""Before a scenario is timed, one request to each app: the same answer, or the suite stops.

A benchmark that times apps doing different work (another page, an error page, a different JSON
shape) measures nothing; these checks make that impossible to miss.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from bench.config import POST_EMAIL_DOMAIN, App
from bench.scenarios import Scenario, Script

FIELDS = {"id", "name", "email", "department", "cgpa", "created_at", "updated_at", "version"}
# Compared across apps for the same student; timestamps are compared as instants, not as text,
# since pydantic writes UTC as "Z" and orjson as "+00:00".
_COMPARED = ("id", "name", "email", "department", "cgpa", "version")


class CheckFailed(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"bench: check failed: {message}")


def _request(
    app: App, method: str, path: str, body: dict[str, Any] | None = None, **extra: str
) -> tuple[int, Any]:
    headers = {**app.headers, **extra}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(app.base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        raise CheckFailed(f"{app.name} {method} {path} answered {exc.code}: {exc.read(500)!r}") from None


def _student(app: App, document: Any, where: str) -> dict[str, Any]:
    if not isinstance(document, dict) or set(document) != FIELDS:
        raise CheckFailed(f"{app.name} {where}: a student should have exactly {sorted(FIELDS)}: {document!r}")
    return document


def check(scenario: Scenario, apps: dict[str, App], *, sample_id: str, token: str) -> None:
    seen: dict[str, dict[str, Any]] = {}
    for target in scenario.targets:
        app = apps[target.app]
        if scenario.script is Script.POINT_READS:
            status, document = _request(app, "GET", f"/students/{sample_id}")
            seen[app.name] = _student(app, document, "GET /students/{id}")
        elif scenario.script is Script.PATCH:
            # The same change as the script's, on the sample student; each app bumps its version.
            status, document = _request(
                app, "PATCH", f"/students/{sample_id}", {"cgpa": 7.25}, **{"If-Match": "*"}
            )
            if _student(app, document, "PATCH /students/{id}")["cgpa"] != 7.25:
                raise CheckFailed(f"{app.name} PATCH /students/{{id}}: the CGPA was not changed")
        elif scenario.script is Script.REGISTER:
            body = {
                "name": "Check Run",
                "email": f"check-{token}-{app.name}@{POST_EMAIL_DOMAIN}",
                "department": "CS",
                "cgpa": 7.5,
            }
            status, document = _request(app, "POST", "/students", body)
            _student(app, document, "POST /students")
        else:
            status, document = _request(app, "GET", target.path)
            items = document.get("items") if isinstance(document, dict) else None
            if not isinstance(items, list) or set(document) != {"items", "next_cursor"}:
                raise CheckFailed(f"{app.name} {target.path}: not a page of students")
            ids = tuple(_student(app, item, target.path)["id"] for item in items)
            if ids != scenario.expected_ids:
                raise CheckFailed(f"{app.name} {target.path}: the page does not hold the expected students")
        if not 200 <= status < 300:
            raise CheckFailed(f"{app.name} {scenario.key}: status {status}")
    _same_student_everywhere(seen)


def _same_student_everywhere(seen: dict[str, dict[str, Any]]) -> None:
    views = {
        name: (
            *(doc[field] for field in _COMPARED),
            datetime.fromisoformat(doc["created_at"]),
            datetime.fromisoformat(doc["updated_at"]),
        )
        for name, doc in seen.items()
    }
    if len(set(views.values())) > 1:
        raise CheckFailed(f"the apps disagree about one student: {views}")
