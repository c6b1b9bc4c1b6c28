"""What a log line looks like, and what it never contains."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from infrastructure.observability.context import current_request_id
from infrastructure.observability.logging import (
    access_line_writer,
    build_formatter,
    line_logger,
    logging_config,
    redact_text,
)

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("duplicate entry 'ada.lovelace@example.org' for key", "duplicate entry 'a***@example.org' for key"),
        ("to Grace.Hopper+cs@navy.mil.us now", "to G***@navy.mil.us now"),
        (f"Authorization: Bearer {TOKEN}", "Authorization: [redacted]"),
        (f"got {TOKEN} from client", "got [token] from client"),
        (
            "postgresql+asyncpg://app:s3cr3t@db:5432/students",
            "postgresql+asyncpg://app:[redacted]@db:5432/students",
        ),
        ("password=hunter2 user=x", "password=[redacted] user=x"),
        ('{"secret": "abc"}', '{"secret": "[redacted]"}'),
        ("nothing to hide here", "nothing to hide here"),
        # Found by review: these were logged whole, or half masked.
        ("/students/_emile@example.org", "/students/_***@example.org"),
        ("jane#doe@example.org", "j***@example.org"),
        ("sub=_alice@example.com", "sub=_***@example.com"),
        ("eyAiYWxnIjogIkhTMjU2In0.eyAic3ViIjogImFkYSJ9.c2lnbmF0dXJlLWJ5dGVz", "[token]"),
        ("/students/01a20f0c-76a1-7481-aae5-71d6384c546e", "/students/01a20f0c-76a1-7481-aae5-71d6384c546e"),
        ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui-bundle.js"),
        # Found in review: a dotted module name was taken for a JWT.
        (
            "sqlalchemy.dialects.postgresql.asyncpg.InterfaceError: connection is closed",
            "sqlalchemy.dialects.postgresql.asyncpg.InterfaceError: connection is closed",
        ),
        ("infrastructure.sqlalchemy.faults warned", "infrastructure.sqlalchemy.faults warned"),
        ("ewogICJhbGciOiAiSFMyNTYiCn0.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl", "[token]"),  # '{\n  "alg"...'
    ],
)
def test_redaction(text: str, shown: str) -> None:
    assert redact_text(text) == shown


def _format(record: logging.LogRecord, fmt: str = "json") -> str:
    return build_formatter(fmt).format(record)  # type: ignore[arg-type]


def _record(message: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("students.access", level, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_time_level_logger_extras_and_the_request_id() -> None:
    token = current_request_id.set("req-123")
    try:
        line = json.loads(_format(_record("request", method="GET", status=200, duration_ms=1.25)))
    finally:
        current_request_id.reset(token)
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["logger"] == "students.access"
    assert line["request_id"] == "req-123"
    assert (line["method"], line["status"], line["duration_ms"]) == ("GET", 200, 1.25)
    assert line["timestamp"].endswith("Z")


def test_secrets_in_extras_and_tracebacks_are_scrubbed() -> None:
    try:
        raise RuntimeError(f"INSERT failed for ada@example.org with {TOKEN}")
    except RuntimeError:
        record = _record("boom", logging.ERROR, authorization=f"Bearer {TOKEN}", who="bob@example.org")
        record.exc_info = sys.exc_info()
    line = _format(record)
    assert TOKEN not in line
    assert "ada@example.org" not in line
    assert "bob@example.org" not in line
    parsed = json.loads(line)
    assert parsed["authorization"] == "[redacted]"
    assert "RuntimeError: INSERT failed for a***@example.org with [token]" in parsed["exception"]


def test_console_lines_are_for_people() -> None:
    line = _format(_record("request", method="GET"), "console")
    assert "request" in line
    assert "method=GET" in line
    assert not line.lstrip().startswith("{")


def test_lines_from_another_formatter_carry_none_of_its_leftovers() -> None:
    record = _record("statement", color_message="\x1b[32mstatement\x1b[0m")
    record.message, record.asctime = "statement", "2026-01-01 00:00:00"
    assert {"message", "asctime", "color_message"}.isdisjoint(json.loads(_format(record)))


def test_db_echo_logs_statements_through_the_pipeline() -> None:
    config = logging_config("json", "INFO", sql=True)
    assert config["loggers"]["sqlalchemy.engine"] == {"level": "INFO"}
    assert "sqlalchemy.engine" not in logging_config("json", "INFO")["loggers"]


ACCESS_LINES = [
    {"method": "GET", "route": "/students/{student_id}", "path": "/students/1", "status": 200,
     "duration_ms": 1.234, "subject": "ada"},
    {"method": "POST", "route": "/students", "path": "/students/ada.lovelace@example.org", "status": 404,
     "duration_ms": 0.5, "subject": TOKEN},
    {"method": "OTHER", "route": "<unmatched>", "path": "/x\udcff\u2028y", "status": 400,
     "duration_ms": 0.001, "subject": None},
    {"method": "GET", "route": "/x", "path": "/password=hunter2", "status": 200, "duration_ms": 2.0,
     "subject": "a\x1bb"},
]  # fmt: skip


@pytest.mark.parametrize("fields", ACCESS_LINES, ids=range(len(ACCESS_LINES)))
@pytest.mark.parametrize("request_id", [None, "0123456789abcdef", TOKEN])
def test_the_cheaper_access_line_is_the_same_line(
    capfd: pytest.CaptureFixture[str], fields: dict[str, object], request_id: str | None
) -> None:
    # The access line skips structlog's chain for speed: it must not change a character but the time.
    context = current_request_id.set(request_id)
    try:
        line_logger("students.access", "json").info("request", **fields)
        access_line_writer("students.access", "json").info("request", **fields)
    finally:
        current_request_id.reset(context)
    structlog_line, cheaper_line = (json.loads(line) for line in capfd.readouterr().err.split("\n")[:2])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", cheaper_line["timestamp"])
    for line in (structlog_line, cheaper_line):
        line["timestamp"] = "-"
    assert list(cheaper_line.items()) == list(structlog_line.items())
