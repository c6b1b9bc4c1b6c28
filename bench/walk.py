"""The whole table, page by page: does a page deep in a listing cost what the first one does?

A client walks every page of ``GET /students?limit=50`` from the first, following ``next_cursor``,
one request at a time over one keep-alive connection, and times each; the service in its default
order and in ``sort=name``, raw in its default order. The tutorial-style app pages with OFFSET,
whose cost grows with depth: it is timed on its first and last pages and on a sample between,
which is enough to draw it (its whole walk would take minutes). The figure that matters is the
median of the last ``EDGE`` pages over the median of the first ``EDGE``.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from bench.config import PAGE_SIZE, App

EDGE = 50  # pages at each end whose medians are compared
FLAT_SAMPLES = 40  # pages between the ends at which the OFFSET app is timed too


@dataclass(frozen=True, slots=True)
class Walk:
    app: str
    order: str  # "id" (the default) or a sort parameter
    # (first row of the page, milliseconds) for every page timed, in order of depth.
    pages: tuple[tuple[int, float], ...]

    @property
    def first_ms(self) -> float:
        return statistics.median(ms for _, ms in self.pages[:EDGE])

    @property
    def last_ms(self) -> float:
        return statistics.median(ms for _, ms in self.pages[-EDGE:])

    @property
    def ratio(self) -> float:
        return self.last_ms / self.first_ms

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "first_ms": self.first_ms, "last_ms": self.last_ms, "ratio": self.ratio}


def _get(connection: http.client.HTTPConnection, app: App, path: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    connection.request("GET", path, headers=app.headers)
    response = connection.getresponse()
    body = response.read()
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise SystemExit(f"bench: {app.name} GET {path} answered {response.status}")
    return elapsed_ms, json.loads(body)


def walk_cursors(app: App, sort: str | None = None) -> Walk:
    """Every page, following the cursors from the first to the last."""
    connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=60)
    base = f"/students?limit={PAGE_SIZE}" + (f"&sort={sort}" if sort else "")
    pages: list[tuple[int, float]] = []
    path = base
    try:
        while True:
            elapsed, page = _get(connection, app, path)
            pages.append((len(pages) * PAGE_SIZE, elapsed))
            cursor = page["next_cursor"]
            if cursor is None:
                return Walk(app.name, sort or "id", tuple(pages))
            path = f"{base}&cursor={quote(cursor)}"
    finally:
        connection.close()


def walk_offsets(app: App, rows: int) -> Walk:
    """The OFFSET app: its first and last EDGE pages, and FLAT_SAMPLES pages between."""
    last_page = (rows - 1) // PAGE_SIZE
    between = [EDGE + i * (last_page - 2 * EDGE) // FLAT_SAMPLES for i in range(1, FLAT_SAMPLES)]
    numbers = [*range(EDGE), *between, *range(last_page - EDGE + 1, last_page + 1)]
    connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=120)
    try:
        pages = tuple(
            (n * PAGE_SIZE, _get(connection, app, f"/students?skip={n * PAGE_SIZE}&limit={PAGE_SIZE}")[0])
            for n in numbers
        )
    finally:
        connection.close()
    return Walk(app.name, "id", pages)


def walks(apps: dict[str, App], rows: int) -> list[Walk]:
    """Each walk twice, the second kept: the first warms the app and PostgreSQL's cache alike."""
    kept: list[Walk] = []
    for _ in range(2):
        kept = [
            walk_cursors(apps["service"]),
            walk_cursors(apps["service"], "name"),
            walk_cursors(apps["raw"]),
            walk_offsets(apps["flat"], rows),
        ]
    return kept
