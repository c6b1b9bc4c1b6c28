"""After commit: the handlers that act on what a unit of work committed (metrics, later a feed).

Entities record events as things happen (domain/events.py); the unit of work collects the events
of the entities its repositories handed out or were given, and, once its commit has succeeded,
hands them here. A handler never sees an event whose transaction rolled back. Handlers run in the
order they were given and in the request's task, so they must be quick: one that needs I/O should
schedule it (or, for delivery that must survive a crash, be replaced by an outbox table written in
the same transaction). A handler that fails is logged and skipped: the change is already committed,
so failing the request would tell the client something false.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from domain.events import DomainEvent

Handler = Callable[[DomainEvent], None] | Callable[[DomainEvent], Awaitable[None]]

_log = logging.getLogger(__name__)


class EventBus:
    """Hands each committed event to every handler, in the order the handlers were given."""

    def __init__(self, handlers: Sequence[Handler] = ()) -> None:
        # Which handlers must be awaited is decided once, here, not on every event.
        self._handlers = [(handler, inspect.iscoroutinefunction(handler)) for handler in handlers]

    async def publish(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            for handler, awaited in self._handlers:
                try:
                    outcome = handler(event)
                    if awaited:
                        await outcome  # type: ignore[misc]
                except Exception:
                    _log.exception("event handler %s failed on %s", _name(handler), type(event).__name__)


def _name(handler: object) -> str:
    return getattr(handler, "__qualname__", repr(handler))


# A unit of work built without handlers (a unit test, a script) publishes into this.
NO_HANDLERS = EventBus()
