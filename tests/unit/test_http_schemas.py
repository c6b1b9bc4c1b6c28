"""Merge-patch rules of the PATCH body, and the OpenAPI contract clients generate code from."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dependency_injector import providers
from pydantic import ValidationError

from interfaces.container import Container
from interfaces.http.app import create_app
from interfaces.http.schemas import StudentPatch
from tests.support.auth import settings_for_tests


def test_patch_leaves_omitted_fields_unset() -> None:
    patch = StudentPatch.model_validate({"cgpa": "9.5"})
    assert patch.model_fields_set == {"cgpa"}
    assert patch.name is None


@pytest.mark.parametrize("field", ["name", "email", "department", "cgpa"])
def test_patch_refuses_null_for_every_field(field: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        StudentPatch.model_validate({field: None})
    assert excinfo.value.errors()[0]["loc"] == (field,)


def test_patch_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        StudentPatch.model_validate({"version": 3})


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    container = Container()
    container.settings.override(providers.Object(settings_for_tests()))
    try:
        return create_app(container).openapi()
    finally:
        container.unwire()


def test_operation_ids_are_readable(openapi: dict[str, Any]) -> None:
    ids = {op["operationId"] for path in openapi["paths"].values() for op in path.values()}
    assert {
        "register_student", "list_students", "get_student", "replace_student", "update_student",
        "remove_student", "check_liveness", "check_readiness",
    } <= ids  # fmt: skip


def test_conditional_and_idempotency_headers_are_documented(openapi: dict[str, Any]) -> None:
    item = openapi["paths"]["/students/{student_id}"]
    collection = openapi["paths"]["/students"]
    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    assert "304" in item["get"]["responses"]
    assert {"428", "412"} <= item["patch"]["responses"].keys()
    for method in ("put", "patch", "delete"):
        # Required: without it the answer is 428 (it used to be documented as optional).
        assert {p["name"]: p["required"] for p in item[method]["parameters"]}["if-match"] is True
    assert "idempotency-key" in {p["name"] for p in collection["post"]["parameters"]}
    assert {"Location", "ETag", "Idempotent-Replayed"} <= collection["post"]["responses"]["201"][
        "headers"
    ].keys()
    assert "Link" in collection["get"]["responses"]["200"]["headers"]
    # One media type, required: two with one schema broke openapi-python-client (its #1451).
    assert item["patch"]["requestBody"]["required"] is True
    assert list(item["patch"]["requestBody"]["content"]) == ["application/merge-patch+json"]
    problem = item["delete"]["responses"]["412"]["content"]
    # Only the media type the problems are served as (application/json used to be listed too),
    # and a schema that resolves within the document (it used to point at "#/$defs/...").
    assert list(problem) == ["application/problem+json"]
    assert problem["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "stale-version" in problem["application/problem+json"]["examples"]
    assert "FieldProblem" in openapi["components"]["schemas"]
    assert "$defs" not in json.dumps(openapi)
