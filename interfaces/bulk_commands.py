"""``students import`` and ``students export``: whole files of students, from the command line.

Both run the use-cases the HTTP API runs (ImportStudents, ExportStudents), wired by the same
container, on the database the settings name. Progress goes to standard error: a bar with rows/s
and the time left on a terminal, a plain line every few seconds elsewhere (a log, a CI job). The
summary goes to standard output; each bad row is one ``FILE:LINE: field: reason`` line on
standard error, as compilers report, so that an editor can jump to it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, Any

from application.errors import Overloaded
from application.use_cases.import_students import (
    ImportConflict,
    ImportRejected,
    ImportRow,
    ImportStudentsCommand,
    ImportSummary,
    OnConflict,
    UnreadableFile,
)
from interfaces.gc_policy import bulk_work
from interfaces.student_files import CSV, FORMATS, NDJSON, Writer, reader_for

_CHUNK = 1 << 20
# Without a terminal, a progress line at most this often.
_PLAIN_EVERY = 5.0
_SUFFIXES = {".csv": CSV, ".ndjson": NDJSON, ".jsonl": NDJSON}


class BadFile(Exception):
    """The file named cannot be opened or its format guessed; the message is the one line shown."""


class _Stopped(Exception):
    """A stop signal came while the file was being read: the import ends there, as on a bad file."""

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(sig.name)
        self.signal = sig


def format_of(path: str, given: str | None) -> str:
    if given is not None:
        return given
    return _SUFFIXES.get(Path(path).suffix.lower(), CSV)


class _Progress:
    """Rows read and bytes through, shown as the terminal (or its absence) suits."""

    def __init__(self, total_bytes: int | None, stream: IO[str]) -> None:
        self._stream = stream
        self._started = self._last = time.monotonic()
        self.rows = 0
        self._bar: Any = None
        if stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=Console(file=stream),
                transient=False,
            )
            self._task = self._bar.add_task("reading", total=total_bytes, rows=0, rate=0.0)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, rows: int, size: int) -> None:
        self.rows += rows
        now = time.monotonic()
        rate = self.rows / max(now - self._started, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, advance=size, rows=self.rows, rate=rate)
        elif now - self._last >= _PLAIN_EVERY:
            self._last = now
            print(f"read {self.rows:,} rows ({rate:,.0f} rows/s)", file=self._stream, flush=True)

    def phase(self, name: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=name)
        else:
            print(f"{name} {self.rows:,} rows", file=self._stream, flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started


@contextlib.contextmanager
def _opened(path: str) -> Iterator[tuple[IO[bytes], int | None]]:
    if path == "-":
        yield sys.stdin.buffer, None
        return
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BadFile(f"cannot read {path}: {exc.strerror or exc}") from None
    with file:
        try:
            size: int | None = os.fstat(file.fileno()).st_size
        except OSError:
            size = None
        yield file, size


async def _rows(
    file: IO[bytes], format: str, progress: _Progress, stop_requested: Callable[[], signal.Signals | None]
) -> AsyncIterator[ImportRow]:
    reader = reader_for(format)
    while chunk := file.read(_CHUNK):
        if (sig := stop_requested()) is not None:
            raise _Stopped(sig)
        rows = reader.feed(chunk)
        progress.advance(len(rows), len(chunk))
        for row in rows:
            yield row
    rows = reader.close()
    progress.advance(len(rows), 0)
    for row in rows:
        yield row


def _summary(path: str, summary: ImportSummary, seconds: float) -> str:
    rate = summary.rows / seconds if seconds > 0 else 0.0
    counts = f"{summary.created:,} created, {summary.updated:,} updated, {summary.unchanged:,} unchanged"
    if summary.dry_run:
        return f"dry run: {path} would import {summary.imported:,} rows ({counts}); nothing was written"
    return f"imported {summary.imported:,} rows from {path}: {counts} in {seconds:.1f} s ({rate:,.0f} rows/s)"


async def run_import(
    make_use_case: Callable[[], Any],
    path: str,
    *,
    format: str | None,
    on_conflict: str,
    dry_run: bool,
    out: IO[str],
    err: IO[str],
    stop_requested: Callable[[], signal.Signals | None] = lambda: None,
) -> int:
    """Import ``path``; 0 when it was imported (or, ``dry_run``, would be), 1 when it was not.

    Once ``stop_requested`` names a signal, the import reads no more and ends, rolled back, with
    the shell's status for that signal; if the whole file was read by then, it is let finish.
    """
    chosen = format_of(path, format)
    if chosen not in FORMATS:
        raise BadFile(f"unknown format {chosen!r}; use {' or '.join(FORMATS)}")
    with _opened(path) as (file, size), _Progress(size, err) as progress:
        command = ImportStudentsCommand(
            rows=_rows(file, chosen, progress, stop_requested),
            on_conflict=OnConflict(on_conflict),
            dry_run=dry_run,
            on_phase=progress.phase,
        )
        try:
            with bulk_work():
                summary = await make_use_case().execute(command)
        except ImportRejected as exc:
            for error in exc.errors:
                print(f"{path}:{error.line}: {error.field}: {error.message}", file=err)
            if exc.total > len(exc.errors):
                print(f"... and {exc.total - len(exc.errors):,} more errors", file=err)
            print(
                f"students: {exc.total:,} errors in {exc.rows:,} rows of {path}; nothing was imported",
                file=err,
            )
            return 1
        except UnreadableFile as exc:
            print(f"students: {path}:{exc.line}: {exc.reason}; nothing was imported", file=err)
            return 1
        except (ImportConflict, Overloaded) as exc:
            # Another writer got there first (or the database was too busy): a retry may do.
            print(f"students: {exc}", file=err)
            return 1
        except _Stopped as exc:
            print(
                f"students: stopped by {exc.signal.name} at row {progress.rows:,}; nothing was imported",
                file=err,
            )
            return 128 + exc.signal
    print(_summary(path, summary, progress.elapsed), file=out)
    return 0


async def run_export(make_use_case: Callable[[], Any], path: str, *, format: str | None, err: IO[str]) -> int:
    """Write every student to ``path`` ("-": standard output). A file appears whole or not at all:
    the export goes to a new file of its own beside it (never one that is there: no link is
    followed), renamed into place at the end."""
    writer = Writer(format_of(path, format))
    pages = make_use_case().pages()
    # The first page before the first byte: a database that cannot serve leaves nothing behind.
    first = await anext(pages, None)
    count = 0
    if path == "-":
        target: IO[bytes] = sys.stdout.buffer
        temporary = None
    else:
        destination = Path(path)
        if destination.is_dir():  # noqa: ASYNC240 - one stat of a local path
            raise BadFile(f"cannot write {path}: it is a directory")
        try:
            descriptor, name = tempfile.mkstemp(
                dir=destination.parent, prefix=f".{destination.name}.", suffix=".partial"
            )
        except OSError as exc:
            raise BadFile(f"cannot write {path}: {exc.strerror or exc}") from None
        temporary = Path(name)
        target = os.fdopen(descriptor, "wb")
    try:
        target.write(writer.header())
        if first is not None:
            target.write(writer.page(first))
            count += len(first)
        with bulk_work():
            async for page in pages:
                target.write(writer.page(page))
                count += len(page)
        target.flush()
        if temporary is not None:
            target.close()
            os.replace(temporary, path)
    finally:
        if temporary is not None:
            target.close()
            temporary.unlink(missing_ok=True)
    print(f"exported {count:,} students to {'standard output' if path == '-' else path}", file=err)
    return 0
