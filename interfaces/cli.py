"""The ``students`` command: serve the API and migrate the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from infrastructure.settings import Settings, SettingsError, load_settings


def _migrate(settings: Settings) -> int:
    from infrastructure.migrations import upgrade_to_head
    from infrastructure.sqlalchemy.engine import create_engine

    async def run() -> None:
        engine = create_engine(settings)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
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


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "interfaces.http.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # The access log comes from our own middleware; uvicorn's would be a second copy.
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="students", description="Student records service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the REST API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="upgrade the database schema to the latest revision")
    commands.add_parser("purge-idempotency-keys", help="delete expired Idempotency-Key records now")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"students: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "purge-idempotency-keys":
        return _purge(settings)
    return _serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
