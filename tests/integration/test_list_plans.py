"""The database's own plan for a deep ``sort=email`` page: a seek on the unique email index, no sort.

A keyset page is only as cheap as its plan, and a plan that sorts the table shows in no result,
nor in a test's time on a few thousand rows: only in production, as every page costing the whole
table. Since migration 0006 the unique index is the only index on email, so this is what holds the
list query to an order it can serve: by email alone, with nothing after it (repository.py).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from application.listing import SortField, SortKey, StudentQuery
from domain.text import fold
from infrastructure.sqlalchemy.repository import SqlAlchemyStudentRepository
from infrastructure.sqlalchemy.tables import students
from tests.support.builders import a_student

# Enough that reading the table and sorting it costs the planners far more than a seek does.
ROWS = 5000


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def backend(request: pytest.FixtureRequest) -> str:
    """The real backends only: the in-memory one has no planner."""
    return str(request.param)


class _NoRows:
    def all(self) -> list[Any]:
        return []


class _Recording:
    """A session that keeps what a repository would run instead of running it: the statement and
    values of the real list query, on whichever path (SQLAlchemy's or asyncpg's) would run it."""

    def __init__(self, dialect_name: str) -> None:
        self.dialect_name = dialect_name
        self.runs: list[tuple[sa.Select[Any], dict[str, Any]]] = []

    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        assert isinstance(statement, sa.Select)
        self.runs.append((statement, parameters))
        return _NoRows()

    async def copy_records(self, table: str, columns: Any, records: Any) -> None:
        raise AssertionError("a listing copies nothing")


@dataclass(frozen=True)
class _Plan:
    indexes: frozenset[str]  # every index the plan reads
    sorts: bool  # a sort step of its own: the rows read come out in another order
    scans_table: bool  # reads the table itself, start to end
    text: str  # the plan as the database put it, for the assertion's message


async def _seed(engine: AsyncEngine) -> None:
    # Emails in an order of their own, unrelated to the ids', as a registrar's would be.
    rows = []
    for n in random.Random(6).sample(range(ROWS), ROWS):
        student = a_student(email=f"s{n:05d}@example.org")
        row = {c.name: getattr(student, c.name) for c in students.c if c.name != "name_folded"}
        rows.append({**row, "name_folded": fold(student.name)})
    async with engine.begin() as connection:
        await connection.execute(sa.insert(students), rows)
        analyze = {"postgresql": "ANALYZE students", "sqlite": "ANALYZE", "mysql": "ANALYZE TABLE students"}
        await connection.exec_driver_sql(analyze[engine.dialect.name])


async def _plan(connection: AsyncConnection, statement: sa.Select[Any], parameters: dict[str, Any]) -> _Plan:
    """EXPLAIN of ``statement`` with ``parameters`` bound as the repository binds them."""
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    values = compiled.construct_params(parameters)
    arguments = []
    for name in compiled.positiontup or ():
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        arguments.append(process(values[name]) if process else values[name])

    async def explain(prefix: str) -> list[sa.Row[Any]]:
        return list((await connection.exec_driver_sql(f"{prefix} {compiled.string}", tuple(arguments))).all())

    if dialect.name == "postgresql":
        (document,) = (await explain("EXPLAIN (FORMAT JSON)"))[0]
        nodes = list(_nodes(json.loads(document) if isinstance(document, str) else document))
        kinds = {node["Node Type"] for node in nodes}
        return _Plan(
            indexes=frozenset(node["Index Name"] for node in nodes if "Index Name" in node),
            sorts=bool(kinds & {"Sort", "Incremental Sort"}),
            scans_table="Seq Scan" in kinds,
            text=json.dumps(nodes[0], indent=1),
        )
    if dialect.name == "sqlite":
        details = [str(row[-1]) for row in await explain("EXPLAIN QUERY PLAN")]
        return _Plan(
            indexes=frozenset(
                detail.split(" INDEX ", 1)[1].split()[0] for detail in details if " INDEX " in detail
            ),
            sorts=any("TEMP B-TREE" in detail for detail in details),
            scans_table=any(detail == "SCAN students" for detail in details),
            text="\n".join(details),
        )
    rows = [row._mapping for row in await explain("EXPLAIN")]
    return _Plan(
        indexes=frozenset(row["key"] for row in rows if row["key"]),
        sorts=any("filesort" in (row["Extra"] or "") for row in rows),
        scans_table=any(row["type"] == "ALL" for row in rows),
        text="\n".join(str(dict(row)) for row in rows),
    )


def _nodes(document: list[dict[str, Any]]) -> Any:
    stack = [document[0]["Plan"]]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("Plans", ()))


async def _unique_email_index(connection: AsyncConnection) -> str:
    """uq_students_email, or on SQLite the index it made for that constraint, which it names."""
    if connection.dialect.name != "sqlite":
        return "uq_students_email"
    indexes = (await connection.exec_driver_sql("PRAGMA index_list(students)")).all()
    (name,) = [row._mapping["name"] for row in indexes if row._mapping["origin"] == "u"]
    return str(name)


@pytest.mark.parametrize("descending", [False, True], ids=["email", "-email"])
async def test_a_deep_page_by_email_seeks_the_unique_index(
    empty_engine: AsyncEngine | None, descending: bool
) -> None:
    assert empty_engine is not None
    await _seed(empty_engine)
    async with empty_engine.connect() as connection:
        by_email = (
            await connection.execute(sa.select(students.c.email, students.c.id).order_by(students.c.email))
        ).all()
    # Three quarters of the way in the page's direction: a cursor a client gets after many pages.
    email, student_id = by_email[ROWS // 4 if descending else ROWS * 3 // 4]
    sort = (SortKey(SortField.EMAIL, descending),)
    query = StudentQuery(sort=sort, limit=51, after=(email, student_id))
    session = _Recording(empty_engine.dialect.name)
    await SqlAlchemyStudentRepository(session).find_page(query)
    ((statement, parameters),) = session.runs

    async with empty_engine.connect() as connection:
        plan = await _plan(connection, statement, parameters)
        unique = await _unique_email_index(connection)

    assert plan.indexes == {unique}, plan.text
    assert not plan.sorts, plan.text
    assert not plan.scans_table, plan.text
