"""Where a server process is in its life: serving, or draining before it stops.

Each process drains on its own signal, so this is per process, as it should be: nothing a
client's data depends on lives here.
"""

from __future__ import annotations

import time


class Lifecycle:
    def __init__(self) -> None:
        self.draining = False
        self.draining_since: float | None = None

    def begin_draining(self) -> None:
        """From now on /readyz answers 503 and every answer asks its client to close the
        connection, while requests are still served (see interfaces/server.py)."""
        if not self.draining:
            self.draining = True
            self.draining_since = time.monotonic()
