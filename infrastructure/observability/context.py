"""What is known about the request being served, readable anywhere in its task."""

from __future__ import annotations

from contextvars import ContextVar

# Set by the HTTP layer for the length of one request; every log line of it carries the value.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
