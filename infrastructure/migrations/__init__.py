"""Alembic migrations, runnable from the installed package (``students migrate``)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent
_VERSION_TABLE = "alembic_version"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url is not None:
        # ConfigParser interpolation would read '%' in a password as a directive.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_to_head(engine: AsyncEngine) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None before the first migration.

    Read from Alembic's table directly: a MigrationContext would log two INFO lines on every
    readiness probe.
    """

    def read(connection: Connection) -> str | None:
        if not sa.inspect(connection).has_table(_VERSION_TABLE):
            return None
        version = sa.table(_VERSION_TABLE, sa.column("version_num", sa.String))
        revision: str | None = connection.execute(sa.select(version.c.version_num)).scalar()
        return revision

    async with engine.connect() as connection:
        # A read needs no transaction; on SQLite a transaction would queue behind every writer.
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        return await connection.run_sync(read)
