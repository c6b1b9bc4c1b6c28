"""``students import`` and ``students export``: whole files of students, from the command line.

Both run the use-cases the HTTP API runs (ImportStudents, ExportStudents), wired by the same
container, on the database the settings name. Progress goes to standard error: a bar with rows/s
and the time left on a terminal, a plain line every few seconds elsewhere (a log, a CI job). The
summary goes to standard output; each bad row is one ``FILE:LINE: field: reason`` line on
standard error, as compilers report, so that an editor can jump to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from application.errors import ExclusiveImportUnavailable, Overloaded
from application.use_cases.import_students import (
    ImportConflict,
    ImportRejected,
    ImportRow,
    ImportStudentsCommand,
    ImportSummary,
    OnConflict,
    UnreadableFile,
)
from application.wording import counted
from interfaces.gc_policy import bulk_work
from interfaces.student_files import CSV, FORMATS, NDJSON, Writer, reader_for

_CHUNK = 1 << 20
# Chunks read ahead of the one being parsed.
_CHUNKS_AHEAD = 2
# Without a terminal, a progress line at most this often.
_PLAIN_EVERY = 5.0
_SUFFIXES = {".csv": CSV, ".ndjson": NDJSON, ".jsonl": NDJSON}


class BadFile(Exception):
    """The file named cannot be opened, written or its format guessed; the message is the one line
    shown, and ``status`` the exit status (2, a bad argument, unless the trouble came later)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class Stopping(Protocol):
    """How the command that runs an import is stopped (interfaces/cli.py): a stop signal cancels
    the import, which then rolls back, except while it commits, which a first signal lets end."""

    def hold(self) -> None:
        """From now on, until the import ends, only a second stop signal cancels it."""

    def stopped_by(self) -> signal.Signals | None:
        """The first stop signal that came, if one did (it cancelled the import, or was held)."""


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
        # What the import does once every row is read (ImportStudentsCommand.on_phase).
        self.doing = ""
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
            print(f"read {counted(self.rows, 'row')} ({rate:,.0f} rows/s)", file=self._stream, flush=True)

    def phase(self, name: str) -> None:
        self.doing = name
        if self._bar is not None:
            self._bar.update(self._task, description=name)
        else:
            print(f"{name} {counted(self.rows, 'row')}", file=self._stream, flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started


@dataclass(frozen=True)
class _Source:
    """Where an import's bytes come from. The reading thread calls ``opener`` (an open may wait:
    a FIFO waits for its writer) and closes what it gave, unless it is standard input's."""

    name: str
    opener: Callable[[], int]
    owned: bool = True


def _source(path: str) -> tuple[_Source, int | None]:
    """The source ``path`` names, and its size when it has one. A regular file is opened here
    once, so that a missing or unreadable one is a bad argument at once, not a failed import."""
    if path == "-":
        try:
            descriptor = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):  # closed (None), or no descriptor
            raise BadFile("cannot read standard input: it is closed") from None
        return _Source("standard input", lambda: descriptor, owned=False), None
    try:
        found = os.stat(path)
        if stat.S_ISREG(found.st_mode):
            os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise BadFile(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(found.st_mode):
        raise BadFile(f"cannot read {path}: it is a directory")
    size = found.st_size if stat.S_ISREG(found.st_mode) else None
    return _Source(path, lambda: os.open(path, os.O_RDONLY)), size


async def _chunks(source: _Source) -> AsyncIterator[bytes]:
    """The source's bytes, read by a thread of its own: an open or a read that waits (a FIFO with
    no writer yet, a pipe gone quiet) holds neither the event loop, so a signal still stops the
    import, nor, the thread being a daemon, the process's exit. ``os.read`` on the descriptor,
    never a buffered file, whose lock a daemon thread still held would make the exit fail."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[bytes | OSError] = asyncio.Queue()
    room = threading.Semaphore(_CHUNKS_AHEAD)
    done = threading.Event()

    def deliver(item: bytes | OSError) -> bool:
        try:
            loop.call_soon_threadsafe(arrived.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is reading any more
            return False
        return True

    def read() -> None:
        try:
            descriptor = source.opener()
        except OSError as exc:
            deliver(exc)
            return
        try:
            while room.acquire() and not done.is_set():
                try:
                    chunk = os.read(descriptor, _CHUNK)
                except OSError as exc:
                    deliver(exc)
                    return
                if not deliver(chunk) or not chunk:
                    return
        finally:
            if source.owned:
                os.close(descriptor)

    threading.Thread(target=read, name="import-reader", daemon=True).start()
    try:
        while True:
            item = await arrived.get()
            room.release()
            if isinstance(item, OSError):
                # Part-way through (an I/O error): the import fails as on a bad file.
                reason = item.strerror or item
                raise BadFile(f"cannot read {source.name}: {reason}; nothing was imported", status=1)
            if not item:
                return
            yield item
    finally:
        done.set()
        room.release()  # a reader waiting for room sees done and ends


async def _rows(source: _Source, format: str, progress: _Progress) -> AsyncIterator[ImportRow]:
    reader = reader_for(format)
    async for chunk in _chunks(source):
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
    imported = counted(summary.imported, "row")
    if summary.dry_run:
        return f"dry run: {path} would import {imported} ({counts}); nothing was written"
    return f"imported {imported} from {path}: {counts} in {seconds:.1f} s ({rate:,.0f} rows/s)"


async def run_import(
    make_use_case: Callable[[], Any],
    path: str,
    *,
    format: str | None,
    on_conflict: str,
    dry_run: bool,
    out: IO[str],
    err: IO[str],
    stopping: Stopping | None = None,
    exclusive: bool = False,
) -> int:
    """Import ``path``; 0 when it was imported (or, ``dry_run``, would be), 1 when it was not,
    and the shell's status for a signal that stopped it (``stopping``), having said which."""
    chosen = format_of(path, format)
    if chosen not in FORMATS:
        raise BadFile(f"unknown format {chosen!r}; use {' or '.join(FORMATS)}")
    lines: list[str] = []
    source, size = _source(path)
    with _Progress(size, err) as progress:

        def on_phase(name: str) -> None:
            progress.phase(name)
            if name == "committing" and stopping is not None:
                stopping.hold()  # a COMMIT cut off leaves its outcome unknown: let it answer

        command = ImportStudentsCommand(
            rows=_rows(source, chosen, progress),
            on_conflict=OnConflict(on_conflict),
            dry_run=dry_run,
            on_phase=on_phase,
            exclusive=exclusive,
        )
        status = 1
        try:
            with bulk_work():
                summary = await make_use_case().execute(command)
            status = 0
        except ImportRejected as exc:
            lines += [f"{path}:{error.line}: {error.field}: {error.message}" for error in exc.errors]
            if exc.total > len(exc.errors):
                lines.append(f"... and {counted(exc.total - len(exc.errors), 'more error')}")
            lines.append(
                f"students: {counted(exc.total, 'error')} in {counted(exc.rows, 'row')} of {path}; "
                "nothing was imported"
            )
        except UnreadableFile as exc:
            lines.append(f"students: {path}:{exc.line}: {exc.reason}; nothing was imported")
        except ExclusiveImportUnavailable as exc:
            lines.append(f"students: {exc}; import without --exclusive")
            status = 2
        except (ImportConflict, Overloaded) as exc:
            # Another writer got there first (or the database was too busy): a retry may do.
            lines.append(f"students: {exc}")
        except asyncio.CancelledError:
            # Cancelled by this command's own stop (the import has rolled back by now): say so.
            sig = stopping.stopped_by() if stopping is not None else None
            if sig is None:
                raise
            if progress.doing == "committing":
                outcome = (
                    "while committing; the import may or may not have been kept (`students export` tells)"
                )
            elif progress.doing:
                outcome = f"while {progress.doing} {counted(progress.rows, 'row')}; nothing was imported"
            else:
                outcome = f"at row {progress.rows:,}; nothing was imported"
            lines.append(f"students: stopped by {sig.name} {outcome}")
            status = 128 + sig
    # Printed once the progress bar has stopped, which would otherwise draw over them.
    for line in lines:
        print(line, file=err)
    if status == 0:
        print(_summary(path, summary, progress.elapsed), file=out)
    return status


class _ReaderGone(Exception):
    """Whoever read standard output closed it (``| head`` has its lines)."""


def _new_file_mode() -> int:
    """The mode a new file of this process gets (0o666 less the umask), read without setting the
    umask, which is the whole process's while other threads run."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc here: setting it is the one way to read it
    os.umask(mask)
    return 0o666 & ~mask


def _export_target(path: str) -> tuple[int, Path]:
    """A new file beside ``path`` to write the export into (never one that is there: no link is
    followed), with the mode of the file it will replace, or of any new file."""
    if not path:
        raise BadFile("cannot write a file with no name; give one, or - for standard output")
    try:
        found: int | None = os.lstat(path).st_mode
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise BadFile(f"cannot write {path}: {exc.strerror or exc}") from None
    if found is not None and stat.S_ISLNK(found):
        # The rename at the end would put a file in the link's place, the file it names left as
        # it was (/dev/stdout is a link too).
        raise BadFile(f"cannot write {path}: it is a symbolic link; name the file itself, or export to -")
    if found is not None and stat.S_ISDIR(found):
        raise BadFile(f"cannot write {path}: it is a directory")
    if found is not None and not stat.S_ISREG(found):
        # A device, a FIFO, /dev/stdout: the rename at the end would put a file in its place.
        raise BadFile(f"cannot write {path}: it is not a regular file; for a pipe, export to -")
    destination = Path(path)
    # The name shortened, so that one near the 255-byte limit still leaves room for the rest.
    # Cut by bytes, as the limit counts them: 200 characters of "é" are 400.
    prefix = f".{os.fsencode(destination.name)[:200].decode(errors='ignore')}."
    try:
        descriptor, name = tempfile.mkstemp(dir=destination.parent, prefix=prefix, suffix=".partial")
    except OSError as exc:
        raise BadFile(f"cannot write {path}: {exc.strerror or exc}") from None
    # mkstemp's file is the owner's alone: a roll someone kept private stays so, a new one is as
    # any file this user makes. The new file is this user's, so set-id bits are not carried over
    # (cp does not either): another's setuid file would become a setuid file of this user's.
    mode = stat.S_IMODE(found) & ~(stat.S_ISUID | stat.S_ISGID) if found is not None else _new_file_mode()
    os.fchmod(descriptor, mode)
    return descriptor, Path(name)


async def run_export(make_use_case: Callable[[], Any], path: str, *, format: str | None, err: IO[str]) -> int:
    """Write every student to ``path`` ("-": standard output). A file appears whole or not at all:
    the export goes to a new file of its own beside it, renamed into place at the end."""
    writer = Writer(format_of(path, format))
    pages = make_use_case().pages()
    # The first page before the first byte: a database that cannot serve leaves nothing behind.
    first = await anext(pages, None)
    shown = "standard output" if path == "-" else path
    temporary: Path | None = None
    if path == "-":
        if sys.stdout is None:
            raise BadFile("cannot write standard output: it is closed")
        target: IO[bytes] = sys.stdout.buffer
    else:
        descriptor, temporary = _export_target(path)
        target = os.fdopen(descriptor, "wb")

    def put(data: bytes | None) -> None:
        """Write ``data`` (None: flush what is written), as the export's own failure if it fails."""
        try:
            if data is None:
                target.flush()
            else:
                target.write(data)
        except BrokenPipeError:
            raise _ReaderGone() from None
        except OSError as exc:
            # A full disk, a quota, an I/O error: the file's trouble, not the database's.
            raise BadFile(f"cannot write {shown}: {exc.strerror or exc}", status=1) from None

    count = 0
    try:
        put(writer.header())
        if first is not None:
            put(writer.page(first))
            count += len(first)
        with bulk_work():
            async for page in pages:
                put(writer.page(page))
                count += len(page)
        put(None)
        if temporary is not None:
            try:
                target.close()
                os.replace(temporary, path)
            except OSError as exc:
                raise BadFile(f"cannot write {path}: {exc.strerror or exc}", status=1) from None
    except _ReaderGone:
        # Stop without a word, as Unix tools do, and keep the interpreter's last flush of
        # standard output from failing on the same pipe.
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, target.fileno())
        os.close(quiet)
        return 128 + signal.SIGPIPE
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):  # what it could not write, it cannot flush either
                target.close()
            temporary.unlink(missing_ok=True)
    print(f"exported {counted(count, 'student')} to {shown}", file=err)
    return 0
