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


class ExclusiveImportUnavailable(ApplicationError):
    """The store cannot drop and build indexes inside a transaction it can still roll back."""

    def __init__(self, store: str, why: str = "commits at every change of an index") -> None:
        super().__init__(
            f"an exclusive import needs PostgreSQL or SQLite; {store} {why}, so a failed import "
            "could not be undone whole"
        )


class Overloaded(ApplicationError):
    """The store cannot take more work right now; the same request may well succeed shortly.
    ``message``: what the client is told, when it is another writer's lock, not every connection
    being busy."""

    AT_CAPACITY = "the service is at capacity; retry shortly"
    LOCKED = "another writer holds what this one needs, and did not let go in time; retry shortly"

    def __init__(self, message: str = AT_CAPACITY) -> None:
        super().__init__(message)


class WritesCollided(Overloaded):
    """The database undid this unit of work because its writes and another's waited on each
    other (a deadlock) or could not both stand (a serialization failure): nothing of it was
    kept, and running it again may well succeed. Still a 503 to a client, as Overloaded is;
    a use-case may know better what such a collision means (ImportStudents: ImportConflict)."""

    def __init__(self) -> None:
        ApplicationError.__init__(
            self, "another request's writes crossed this one's and nothing of it was kept; retry shortly"
        )


class PreconditionRequired(ApplicationError):
    """A write by a client must name the version it last read (or ``*``), and this one names none."""

    def __init__(self) -> None:
        super().__init__(
            "this request must carry If-Match with the ETag of the student you are changing (or *); "
            "GET the student to learn it"
        )


class InvalidPrecondition(ApplicationError):
    """The stated precondition cannot be read; the message says why."""


class StoreUnavailable(ApplicationError):
    """The database cannot serve this request now (unreachable, connection lost, no answer).

    The message is meant for the client and names nothing internal; ``reason`` is for the log.
    """

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class StoreNotMigrated(StoreUnavailable):
    """The database answers but holds no schema (or an older one): ``students migrate`` is due."""

    def __init__(self, *, reason: str = "") -> None:
        super().__init__("the database has no schema yet; run `students migrate`", reason=reason)
