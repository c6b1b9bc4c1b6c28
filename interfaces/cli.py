"""The ``students`` command: serve the API, migrate, import and export, mint tokens, purge keys.

Every failure is one line on standard error and a non-zero exit status, never a traceback: 2 for
a bad argument or setting, 1 for a database that cannot be reached, or anything else; 128 plus
the signal's number when a signal stopped it (143 SIGTERM, 130 SIGINT, 141 a pipe's reader gone).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from application.wording import counted
from infrastructure.auth.keys import (
    KeyConfigurationError,
    token_issuer,
    token_verifier,
    uses_development_secret,
)
from infrastructure.auth.tokens import subject_problem
from infrastructure.observability.logging import configure_logging, logging_config, redact_text
from infrastructure.settings import Settings, SettingsError, load_settings
from interfaces import scopes
from interfaces.entry import STOP_SIGNALS
from interfaces.student_files import FORMATS
from interfaces.version import version

# The token `serve` prints for a developer who configured nothing: long enough for a working day.
_DEVELOPMENT_TOKEN_TTL = timedelta(hours=12)
_MAX_TTL = 366 * 24 * 3600
_MAX_WORKERS = 64

logger = logging.getLogger("students.cli")


class CommandFailed(Exception):
    """The command cannot do what it was asked; the message is the one line the user reads."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _database_call(
    settings: Settings,
    action: str,
    work: Callable[[Any], Coroutine[Any, Any, Any]],
    *,
    unfinished: str = "it may not have finished; run it again",
    stop: _Stop | None = None,
    creates: bool = False,
) -> Any:
    """Run ``work(engine)`` on a fresh engine; an unreachable database is one line, not a traceback.
    Only work that ``creates`` the database (a migration) may start on an SQLite file that is not
    there: SQLite would make an empty one for anything else, wherever the command was run.

    SIGTERM or SIGINT cancels the work (see :class:`_Stop`); the one line then says so and what
    that left (``unfinished``), and the status is the shell's for that signal. Work that says
    itself what a stop left (an import) returns its status instead.
    """
    from alembic.util.exc import CommandError
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from application.errors import StoreUnavailable
    from infrastructure.sqlalchemy import faults
    from infrastructure.sqlalchemy.engine import create_engine
    from infrastructure.sqlalchemy.faults import reason_of

    stop = stop or _Stop()
    url = make_url(settings.database_url)
    problem = _sqlite_file_problem(url, creates=creates)
    if problem is not None:
        raise CommandFailed(f"cannot {action} {url.render_as_string(hide_password=True)}: {problem}")

    async def run() -> Any:
        stop.listen()
        faults.quiet_lost_connections(asyncio.get_running_loop())
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            # Whatever the work's outcome, a signal now would cancel only the closing, and the
            # status would be the signal's, not the work's.
            stop.done()
            await engine.dispose()

    # The service's own warning of an outage would say again what the one line below says.
    logging.getLogger(faults.__name__).setLevel(logging.ERROR)
    try:
        return asyncio.run(run())
    except asyncio.CancelledError:
        if stop.signal is None:
            raise
        raise CommandFailed(
            f"stopped by {stop.signal.name}; {unfinished}", status=128 + stop.signal
        ) from None
    except KeyboardInterrupt:
        # asyncio.run's own answer to SIGINT, once it has cancelled the work and that has unwound.
        raise CommandFailed(f"stopped by SIGINT; {unfinished}", status=128 + signal.SIGINT) from None
    except CommandError as exc:
        # Alembic's own words: a revision this release does not know, most often.
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise CommandFailed(f"cannot {action} {where}: {exc} (was it migrated by a newer release?)") from None
    except (OSError, TimeoutError, DBAPIError, StoreUnavailable) as exc:
        # Unreachable, refused, wrong password, no schema: where and why, the password hidden.
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        reason = reason_of(exc)
        if isinstance(exc, StoreUnavailable):
            reason = f"{exc} ({exc.reason})" if exc.reason else str(exc)
        raise CommandFailed(f"cannot {action} {where}: {reason}") from None


def _sqlite_file_problem(url: Any, *, creates: bool) -> str | None:
    """What is wrong with the file an SQLite URL names, before SQLite is asked to open it (it
    would make an empty one, or fail with "unable to open database file"); None if nothing is,
    or for a database in memory. A file that is not there is a problem only for work that does
    not create it."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if url.query.get("mode") == "memory":
        return None
    if database.startswith("file:") and url.query.get("uri") in ("true", "1"):
        database = unquote(urlsplit(database).path)  # an SQLite URI filename: its path
    path = Path(database).absolute()
    if path.is_dir():
        return f"{path} is a directory, not a database file"
    if not path.parent.is_dir():
        return f"there is no directory {path.parent} for the database file"
    if not creates and not path.exists():
        return (
            f"there is no database file {path}; run `students migrate` first (the default is "
            "./students.db, in the directory the command runs in)"
        )
    return None


class _Stop:
    """The signals that stop a command while its work runs: SIGTERM and SIGINT (Ctrl+C) cancel
    it, and it unwinds as after any failure (the transaction rolled back, a half-written file
    removed, the connections closed). After :meth:`hold` (an import's COMMIT, whose outcome a cut
    would leave unknown) only a second signal does; the first is let wait for the end. Once the
    work is :meth:`done`, both are ignored: what is left is closing, and the status is the work's.
    A signal the command was started with ignored (a background job of a script) stays ignored.
    """

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self.finished = False
        self._held = False
        self._task: asyncio.Task[Any] | None = None
        self._listening: list[signal.Signals] = []

    def hold(self) -> None:
        self._held = True

    def stopped_by(self) -> signal.Signals | None:
        return self.signal

    def listen(self) -> None:
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) == signal.SIG_IGN:
                continue
            # Not on Windows, nor outside the main thread: the signal then does as it always does.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._received, sig)
                self._listening.append(sig)

    def done(self) -> None:
        """The work has ended, well or not. Its signals are ignored from now on, to the process's
        exit: the loop's closing would give them back their default, which kills (a finished
        import's status 143, its summary printed; a failure's status lost)."""
        self.finished = True
        if not self._listening:
            return
        loop = asyncio.get_running_loop()
        # Held off while the handler changes: the loop's removal puts the default back first.
        signal.pthread_sigmask(signal.SIG_BLOCK, self._listening)
        try:
            for sig in self._listening:
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self._listening)
        self._listening.clear()

    def _received(self, sig: signal.Signals) -> None:
        if self.finished or self._task is None:
            return
        first = self.signal is None
        self.signal = self.signal or sig
        if not (first and self._held):
            self._task.cancel()


def _with_container(
    settings: Settings,
    action: str,
    work: Callable[[Any], Coroutine[Any, Any, int]],
    *,
    unfinished: str,
    stop: _Stop | None = None,
) -> int:
    """Run ``work(container)`` on the service's own wiring for ``settings``, then close what it
    opened; failures of the database read as in :func:`_database_call`."""
    from dependency_injector import providers

    from interfaces.bulk_commands import BadFile
    from interfaces.container import Container

    stop = stop or _Stop()

    async def run(_engine: Any) -> int:
        container = Container()
        container.settings.override(providers.Object(settings))
        await container.init_resources()  # type: ignore[misc]
        try:
            return await work(container)
        finally:
            stop.done()  # as in _database_call: the closing below is not the work
            await container.shutdown_resources()  # type: ignore[misc]

    try:
        result: int = _database_call(settings, action, run, unfinished=unfinished, stop=stop)
    except BadFile as exc:
        raise CommandFailed(str(exc), status=exc.status) from None
    return result


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from interfaces.bulk_commands import run_import

    async def work(container: Any) -> int:
        return await run_import(
            container.import_students,
            args.file,
            format=args.format,
            on_conflict=args.on_conflict,
            dry_run=args.dry_run,
            exclusive=args.exclusive,
            out=sys.stdout,
            err=sys.stderr,
            stopping=stop,
        )

    stop = _Stop()
    return _with_container(settings, "import into", work, unfinished="nothing was imported", stop=stop)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from interfaces.bulk_commands import run_export

    async def work(container: Any) -> int:
        return await run_export(container.export_students, args.file, format=args.format, err=sys.stderr)

    unfinished = "what reached standard output is incomplete" if args.file == "-" else "no file was written"
    return _with_container(settings, "export from", work, unfinished=unfinished)


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from infrastructure.migrations import upgrade_to_head

    _database_call(
        settings,
        "migrate",
        upgrade_to_head,
        unfinished="run `students migrate` again to finish",
        creates=True,
    )
    print("database is at the latest revision", file=sys.stderr)
    return 0


def _purge(settings: Settings, _args: argparse.Namespace) -> int:
    from application.use_cases.purge_idempotency_keys import PurgeExpiredIdempotencyKeys
    from infrastructure.clock import SystemClock
    from infrastructure.sqlalchemy.database import database_for
    from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    async def purge(engine: Any) -> int:
        database = database_for(engine, settings)
        try:
            use_case = PurgeExpiredIdempotencyKeys(SqlAlchemyUnitOfWork(database), SystemClock())
            return await use_case.execute()
        finally:
            await database.dispose()

    purged = _database_call(settings, "purge the idempotency keys of", purge)
    print(f"{counted(purged, 'expired idempotency key')} removed", file=sys.stderr)
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    unknown = sorted(set(args.scopes) - set(scopes.ALL))
    if unknown:
        raise CommandFailed(f"unknown scope {', '.join(unknown)}; use {', '.join(scopes.ALL)}", status=2)
    # Never a new development secret: the server would not know it, and refuse the token.
    issuer = token_issuer(settings, create_secret=False)
    print(issuer.mint(args.subject, args.scopes, ttl=timedelta(seconds=args.ttl)))
    return 0


def _development_banner(settings: Settings, host: str, port: int) -> None:
    """Outside production with no key configured: say so, and hand the developer a token.

    On standard output, for the person who ran the command: standard error is the log stream,
    which never carries a token.
    """
    token = token_issuer(settings).mint(
        "local-developer", (scopes.READ, scopes.WRITE), ttl=_DEVELOPMENT_TOKEN_TTL
    )
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"  # an IPv6 address, as a URL writes it (RFC 3986)
    print(
        f"No AUTH_SECRET configured: signing tokens with the development secret in "
        f"{settings.dev_secret_file.resolve()} (never use it in production).\n"
        f"A read+write token, valid for 12 hours (mint others with `students token`, run here):\n\n"
        f"  export TOKEN={token}\n"
        f'  curl -H "Authorization: Bearer $TOKEN" http://{shown_host}:{port}/students\n',
        file=sys.stdout,
        flush=True,
    )


def _overridden(settings: Settings, **changes: object) -> Settings:
    """``settings`` with what the command line gave instead, checked as the environment is."""
    given = {name: value for name, value in changes.items() if value is not None}
    if not given:
        return settings
    try:
        return Settings.model_validate({**dict(settings), **given})
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = str(problem["loc"][0]).replace("_", "-") if problem["loc"] else "an option"
        raise CommandFailed(f"--{where}: {problem['msg'].removeprefix('Value error, ')}", status=2) from None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from interfaces.server import ServeOptions, listen, serve

    forwarded = args.forwarded_allow_ips
    if args.proxy_headers and forwarded is None and not settings.forwarded_allow_ips:
        forwarded = "127.0.0.1"  # a proxy on this machine, as uvicorn's --proxy-headers trusts
    settings = _overridden(
        settings,
        forwarded_allow_ips=forwarded,
        root_path=args.root_path,
        shutdown_drain=args.shutdown_drain,
        shutdown_timeout=args.shutdown_timeout,
    )
    if settings.root_path:
        from interfaces.http.app import check_root_path

        try:
            check_root_path(settings.root_path)
        except ValueError as exc:
            raise CommandFailed(f"--root-path: {exc}", status=2) from None

    # Fail before binding the port if the keys cannot be used; every worker builds the same.
    token_verifier(settings)
    options = ServeOptions(
        settings=settings,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=logging_config(settings.log_format, settings.log_level, sql=settings.db_echo),
    )
    try:
        listener = listen(args.host, args.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason += "; another program has the port: choose another with --port (make run: PORT=8001)"
        raise CommandFailed(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    if uses_development_secret(settings):
        # Once the port is this server's: a token printed for a port another program holds
        # would be sent to that program (found by a new user).
        _development_banner(settings, args.host, args.port)
    with listener, _metrics_shared_by(args.workers):
        return serve(options, listener)


@contextlib.contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """With several workers, give them a fresh directory to pool their metrics in.

    prometheus-client's multiprocess mode reads ``PROMETHEUS_MULTIPROC_DIR`` when it is first
    imported, so it is set here, before the workers that inherit it start. A directory the
    operator set is theirs to keep clean.
    """
    from infrastructure.observability.metrics import MULTIPROCESS_DIR_VARIABLE

    if workers <= 1 or os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        yield
        return
    directory = tempfile.mkdtemp(prefix="students-metrics-")
    os.environ[MULTIPROCESS_DIR_VARIABLE] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_DIR_VARIABLE]
        shutil.rmtree(directory, ignore_errors=True)


class _Parser(argparse.ArgumentParser):
    """argparse, whose errors are one line (usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _integer(low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``, of ``unit`` (a plural: "seconds") if it has one."""
    of = f" of {unit}" if unit else ""
    bounds = f"{low} to {high} {unit}" if unit else f"{low} to {high}"

    def parse(text: str) -> int:
        # Digits only: int() would also take " 80", "1_000" and "٨٠".
        if not re.fullmatch(r"[0-9]{1,18}", text):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{of}")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    if not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,3})?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds, such as 30 or 2.5")
    return float(text)


def _subject(text: str) -> str:
    # What the service accepts as a caller (infrastructure/auth/tokens.py): never mint less.
    problem = subject_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="students", description="Student records service")
    parser.add_argument("--version", action="version", version=f"students {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", help="serve the REST API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_integer(1, 65535), default=8000, help="port to listen on (default 8000)"
    )
    serve.add_argument(
        "--workers",
        type=_integer(1, _MAX_WORKERS, "processes"),
        default=1,
        help="server processes (default 1)",
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="believe X-Forwarded-For/-Proto from the addresses of --forwarded-allow-ips "
        "(default without it: 127.0.0.1, a proxy on this machine)",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma list of proxy addresses whose X-Forwarded-For/-Proto are believed "
        "(default: FORWARDED_ALLOW_IPS, none)",
    )
    serve.add_argument(
        "--root-path",
        metavar="PATH",
        help="the path prefix a proxy serves the API under, such as /api; it may pass the prefix "
        "on or strip it (default: ROOT_PATH, none)",
    )
    serve.add_argument(
        "--shutdown-drain",
        type=_seconds,
        metavar="SECONDS",
        help="after SIGTERM, keep serving this long while /readyz says 503 (default: SHUTDOWN_DRAIN, 5)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="then give requests still running this long to finish (default: SHUTDOWN_TIMEOUT, 30)",
    )
    commands.add_parser("migrate", help="upgrade the database schema to the latest revision")
    formats = "csv or ndjson (default: from the file's extension, .ndjson/.jsonl, else csv)"
    importing = commands.add_parser(
        "import", help="import a file of students, all rows or none (see README: Bulk import and export)"
    )
    importing.add_argument("file", metavar="FILE", help="the file to read; - reads standard input")
    importing.add_argument("--format", choices=FORMATS, help=formats)
    importing.add_argument(
        "--on-conflict",
        choices=("error", "update"),
        default="error",
        help="a row whose email a student has: an error (default), or update that student",
    )
    importing.add_argument("--dry-run", action="store_true", help="check every row and count; write nothing")
    importing.add_argument(
        "--exclusive",
        action="store_true",
        help="take the students table for the import's own (everyone else waits) and build its "
        "indexes after the rows, which is faster; PostgreSQL and SQLite (see README: Bulk import and export)",
    )
    exporting = commands.add_parser("export", help="write every student to a file, in id order")
    exporting.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        default="-",
        help="the file to write; - (the default) writes standard output",
    )
    exporting.add_argument("--format", choices=FORMATS, help=formats)
    commands.add_parser("purge-idempotency-keys", help="delete expired Idempotency-Key records now")
    token = commands.add_parser(
        "token", help="mint a bearer token from the configured secret; prints only the token"
    )
    token.add_argument("scopes", nargs="+", metavar="SCOPE", help=f"any of {', '.join(scopes.ALL)}")
    token.add_argument(
        "--ttl",
        type=_integer(1, _MAX_TTL, "seconds"),
        default=3600,
        metavar="SECONDS",
        help=f"seconds the token holds, 1 to {_MAX_TTL:,} (366 days); default 3600",
    )
    token.add_argument("--subject", type=_subject, default="students-cli", help="the caller (sub claim)")
    return parser


_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "migrate": _migrate,
    "import": _import,
    "export": _export,
    "purge-idempotency-keys": _purge,
    "token": _token,
    "serve": _serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"students: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level, sql=settings.db_echo)
    try:
        return _COMMANDS[args.command](settings, args)
    except KeyConfigurationError as exc:
        print(f"students: {exc}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"students: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("students: stopped by SIGINT", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as exc:
        # A bug: the user gets one line; the traceback goes to the log, at DEBUG.
        logger.debug("unexpected failure", exc_info=True)
        print(f"students: unexpected failure: {redact_text(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
