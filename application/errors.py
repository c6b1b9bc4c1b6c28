"""Errors of the application layer: requests a use-case cannot serve, independent of any transport."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base class for use-case level refusals that are not domain rule violations."""


class InvalidQuery(ApplicationError):
    """A list request that names an unknown sort field, a bad cursor, or an out-of-range limit."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class IdempotencyKeyInFlight(ApplicationError):
    """A request with this key is still being processed; the client should retry later."""

    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still in progress; retry shortly")


class IdempotencyKeyReused(ApplicationError):
    """The key was first used for a request with different content."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used for a request with a different body")


class Overloaded(ApplicationError):
    """The store cannot take more work right now; the same request may well succeed shortly."""

    def __init__(self) -> None:
        super().__init__("the service is at capacity; retry shortly")
