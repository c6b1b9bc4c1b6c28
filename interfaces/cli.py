"""The ``students`` command: serve the API and migrate the database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import timedelta

from infrastructure.auth.keys import (
    KeyConfigurationError,
    token_issuer,
    token_verifier,
    uses_development_secret,
)
from infrastructure.observability.logging import configure_logging, logging_config
from infrastructure.settings import Settings, SettingsError, load_settings
from interfaces import scopes

# The token `serve` prints for a developer who configured nothing: long enough for a working day.
_DEVELOPMENT_TOKEN_TTL = timedelta(hours=12)


def _migrate(settings: Settings) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from infrastructure.migrations import upgrade_to_head
    from infrastructure.sqlalchemy.engine import create_engine

    async def run() -> None:
        engine = create_engine(settings)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except (OSError, DBAPIError) as exc:
        # Unreachable, refused, wrong password: one line that says where and why, no traceback.
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"students: cannot migrate {where}: {reason}", file=sys.stderr)
        return 1
    print("database is at the latest revision", file=sys.stderr)
    return 0


def _purge(settings: Settings) -> int:
    from application.use_cases import PurgeExpiredIdempotencyKeys
    from infrastructure.clock import SystemClock
    from infrastructure.sqlalchemy.engine import create_engine
    from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    async def run() -> int:
        engine = create_engine(settings)
        try:
            return await PurgeExpiredIdempotencyKeys(SqlAlchemyUnitOfWork(engine), SystemClock()).execute()
        finally:
            await engine.dispose()

    print(f"{asyncio.run(run())} expired idempotency keys removed", file=sys.stderr)
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    unknown = sorted(set(args.scopes) - set(scopes.ALL))
    if unknown:
        print(f"students: unknown scope {', '.join(unknown)}; use {', '.join(scopes.ALL)}", file=sys.stderr)
        return 2
    token = token_issuer(settings).mint(args.subject, args.scopes, ttl=timedelta(seconds=args.ttl))
    print(token)
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
    print(
        f"No AUTH_SECRET configured: signing tokens with the development secret in "
        f"{settings.dev_secret_file} (never use it in production).\n"
        f"A read+write token, valid for 12 hours (mint others with `students token`):\n\n"
        f"  export TOKEN={token}\n"
        f'  curl -H "Authorization: Bearer $TOKEN" http://{shown_host}:{port}/students\n',
        file=sys.stdout,
        flush=True,
    )


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    # Fail before binding the port if the keys cannot be used; every worker builds the same.
    token_verifier(settings)
    if uses_development_secret(settings):
        _development_banner(settings, args.host, args.port)

    with _metrics_shared_by(args.workers):
        uvicorn.run(
            "interfaces.http.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            # Applied by uvicorn in every worker process, so all of them log the same way.
            log_config=logging_config(settings.log_format, settings.log_level, sql=settings.db_echo),
            # The access log comes from our own middleware; uvicorn's would be a second copy.
            access_log=False,
            proxy_headers=False,
            server_header=False,
        )
    return 0


@contextlib.contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """With several workers, give them a fresh directory to pool their metrics in.

    prometheus-client's multiprocess mode reads ``PROMETHEUS_MULTIPROC_DIR`` when it is first
    imported, so it is set here, before uvicorn starts the workers that inherit it. A directory
    the operator set is theirs to keep clean.
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="students", description="Student records service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the REST API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="upgrade the database schema to the latest revision")
    commands.add_parser("purge-idempotency-keys", help="delete expired Idempotency-Key records now")
    token = commands.add_parser(
        "token", help="mint a bearer token from the configured secret; prints only the token"
    )
    token.add_argument("scopes", nargs="+", metavar="SCOPE", help=f"any of {', '.join(scopes.ALL)}")
    token.add_argument("--ttl", type=_lifetime, default=3600, metavar="SECONDS", help="default 3600")
    token.add_argument("--subject", type=_subject, default="students-cli", help="the caller (sub claim)")
    return parser


_MAX_TTL = 366 * 24 * 3600


def _lifetime(text: str) -> int:
    value = int(text)
    if not 0 < value <= _MAX_TTL:
        raise argparse.ArgumentTypeError(f"must be 1 to {_MAX_TTL} seconds (a year)")
    return value


def _subject(text: str) -> str:
    # What the service accepts as a caller (infrastructure/auth/tokens.py): never mint less.
    if not 1 <= len(text) <= 255:
        raise argparse.ArgumentTypeError("must be 1 to 255 characters")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"students: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level, sql=settings.db_echo)
    try:
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "purge-idempotency-keys":
            return _purge(settings)
        if args.command == "token":
            return _token(settings, args)
        return _serve(settings, args)
    except KeyConfigurationError as exc:
        print(f"students: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
