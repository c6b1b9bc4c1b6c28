"""The served OpenAPI document: valid OpenAPI 3.1, and stating the rules the server enforces."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from interfaces.http.app import create_app
from tests.support.auth import settings_for_tests


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from dependency_injector import providers

    from interfaces.container import Container

    container = Container()
    container.settings.override(
        providers.Object(settings_for_tests(public_base_url="https://students.example.org"))
    )
    return create_app(container).openapi()


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_it_says_where_and_what_the_service_is(document: dict[str, Any]) -> None:
    assert document["servers"][0]["url"] == "https://students.example.org"
    info = document["info"]
    assert info["description"]
    assert info["license"]["identifier"] == "MIT"
    assert info["contact"]["name"]
    declared = {tag["name"] for tag in document["tags"]}
    used = {tag for item in document["paths"].values() for op in item.values() for tag in op.get("tags", [])}
    assert used <= declared
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert all(op.get("description") for op in operations)


def test_bounds_are_those_the_server_keeps(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["StudentCreate"]["properties"]["email"]["maxLength"] == 254
    read = schemas["StudentRead"]["properties"]
    assert read["version"]["format"] == "int32"
    assert (read["cgpa"]["minimum"], read["cgpa"]["maximum"]) == (0, 10)
    assert read["name"]["maxLength"] == 100
    assert schemas["StudentPageRead"]["properties"]["items"]["maxItems"] == 200
    problem = schemas["Problem"]["properties"]
    assert problem["status"]["format"] == "int32"
    # Left out when empty, never null: no generator may make them required-but-nullable.
    assert "default" not in problem["errors"]
    assert problem["errors"]["type"] == "array"
    assert problem["request_id"]["type"] == "string"


def test_every_response_declares_the_headers_it_carries(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                headers = response.get("headers", {})
                assert "X-Request-ID" in headers, (method, path, status)
                if status in ("401", "403"):
                    assert "WWW-Authenticate" in headers, (method, path, status)
                if status == "503":
                    assert "Retry-After" in headers, (method, path, status)


PROBES = ("/healthz", "/readyz", "/metrics")


def _document(**settings: Any) -> dict[str, Any]:
    from dependency_injector import providers

    from interfaces.container import Container

    container = Container()
    container.settings.override(providers.Object(settings_for_tests(**settings)))
    return create_app(container).openapi()


def test_answers_that_spend_a_budget_say_so_and_probes_spend_none() -> None:
    document = _document(rate_limit_enabled=True, import_max_bytes=5_000_000)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            probe = path in PROBES
            assert ("429" in responses) is not probe, (method, path)
            for status, response in responses.items():
                declared = {"RateLimit", "RateLimit-Policy"} <= response["headers"].keys()
                assert declared is not probe, (method, path, status)
            if not probe:
                assert "Retry-After" in responses["429"]["headers"]
    body = document["paths"]["/students/import"]["post"]["requestBody"]["content"]
    assert {media["schema"]["maxLength"] for media in body.values()} == {5_000_000}


def test_with_rate_limits_off_nothing_is_429() -> None:
    document = _document(rate_limit_enabled=False)
    for item in document["paths"].values():
        for operation in item.values():
            assert "429" not in operation["responses"]
            assert all("RateLimit" not in r["headers"] for r in operation["responses"].values())


def test_the_server_entry_names_its_environment() -> None:
    (server,) = _document(environment="production", public_base_url="https://students.example.org")["servers"]
    assert server == {
        "url": "https://students.example.org",
        "description": "this service (production)",
        "x-internal": False,
    }
    assert (
        _document(environment="development")["servers"][0]["description"]
        == "this service (local development)"
    )


def test_every_body_success_and_problem_has_an_example(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                assert "example" in media, (method, path)
            for status, response in operation["responses"].items():
                for media_type, media in response.get("content", {}).items():
                    if media_type == "application/problem+json":
                        assert media["examples"], (method, path, status)
                        assert all(e["value"]["status"] == int(status) for e in media["examples"].values())
                    else:
                        assert "example" in media, (method, path, status, media_type)
