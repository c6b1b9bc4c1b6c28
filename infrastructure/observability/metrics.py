"""Prometheus metrics (prometheus-client), correct with one server process or several.

With several workers, ``PROMETHEUS_MULTIPROC_DIR`` must name a directory before this module is
first imported: every process then writes its values to files there, and whichever process
answers ``/metrics`` adds them all up. ``students serve --workers N`` arranges that.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from domain.events import DomainEvent, StudentRegistered, StudentRemoved, StudentRevised, StudentsImported

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds; most answers take a few milliseconds, a slow database or pool wait shows further up.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("http_requests", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
DB_POOL_IN_USE = Gauge(
    "db_pool_connections_in_use", "Database connections checked out of the pool", multiprocess_mode="livesum"
)
DB_POOL_WAITING = Gauge(
    "db_pool_waiting", "Units of work waiting for a database connection", multiprocess_mode="livesum"
)
STUDENTS_CREATED = Counter("students_created", "Students registered (committed)")
STUDENTS_UPDATED = Counter("students_updated", "Student revisions committed")
STUDENTS_DELETED = Counter("students_deleted", "Students removed (committed)")


def count_student_events(event: DomainEvent) -> None:
    """An event handler (application/events.py): count what was committed, whatever the backend."""
    match event:
        case StudentRegistered():
            STUDENTS_CREATED.inc()
        case StudentRevised():
            STUDENTS_UPDATED.inc()
        case StudentRemoved():
            STUDENTS_DELETED.inc()
        case StudentsImported(registered=registered, revised=revised):
            STUDENTS_CREATED.inc(registered)
            STUDENTS_UPDATED.inc(revised)


def _multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    return Path(value) if value else None


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def _forget_dead_processes(directory: Path) -> None:
    """A worker that died cannot say so: drop its live gauges, or they would count forever."""
    for path in directory.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, under another user


def exposition() -> bytes:
    """Every metric in the Prometheus text format, summed over all server processes."""
    directory = _multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    _forget_dead_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)
