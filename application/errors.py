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
