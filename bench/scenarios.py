"""What is measured: each scenario, the URL each app answers it on, and what its answer must hold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bench.config import DEEP_ROW, PAGE_SIZE
from bench.database import SORTED, Dataset


class Script(StrEnum):
    """The wrk script that drives a run."""

    FIXED = "fixed.lua"  # the same URL every time
    POINT_READS = "point_reads.lua"  # GET /students/{random existing id}
    REGISTER = "register.lua"  # POST /students with a unique email every time
    PATCH = "patch.lua"  # PATCH /students/{random existing id}, If-Match: *, a new CGPA


@dataclass(frozen=True, slots=True)
class Target:
    app: str
    path: str  # path and query; for point reads and POST the script chooses the path


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    script: Script
    targets: tuple[Target, ...]
    # For listings: the ids, in order, that the database says the page holds. Every app's page is
    # checked against them before it is measured, so all apps are timed doing the same work.
    expected_ids: tuple[str, ...] | None = None


def _list_path(*, sort: str | None = None, cursor: str | None = None) -> str:
    path = f"/students?limit={PAGE_SIZE}"
    if sort:
        path += f"&sort={sort}"
    if cursor:
        path += f"&cursor={cursor}"
    return path


def scenarios(data: Dataset) -> tuple[Scenario, ...]:
    first, deep = data.pages[None, 0], data.pages[None, DEEP_ROW]
    sorted_first, sorted_deep = data.pages[SORTED, 0], data.pages[SORTED, DEEP_ROW]
    everyone = ("service", "flat", "raw")
    return (
        Scenario(
            "get_by_id",
            "GET /students/{id}, random existing ids",
            Script.POINT_READS,
            tuple(Target(app, "/students/{id}") for app in everyone),
        ),
        Scenario(
            "list_first",
            f"GET /students?limit={PAGE_SIZE}, first page",
            Script.FIXED,
            tuple(Target(app, _list_path()) for app in everyone),
            first.ids,
        ),
        Scenario(
            "list_deep",
            f"GET /students, the page after row {DEEP_ROW:,} (cursor; flat: skip={DEEP_ROW})",
            Script.FIXED,
            (
                Target("service", _list_path(cursor=deep.cursor)),
                Target("flat", f"/students?skip={DEEP_ROW}&limit={PAGE_SIZE}"),
                Target("raw", _list_path(cursor=deep.cursor)),
            ),
            deep.ids,
        ),
        Scenario(
            "sorted_first",
            f"GET /students?limit={PAGE_SIZE}&sort={SORTED}, first page",
            Script.FIXED,
            (Target("service", _list_path(sort=SORTED)),),
            sorted_first.ids,
        ),
        Scenario(
            "sorted_deep",
            f"GET /students?limit={PAGE_SIZE}&sort={SORTED}, the page after row {DEEP_ROW:,}",
            Script.FIXED,
            (Target("service", _list_path(sort=SORTED, cursor=sorted_deep.cursor)),),
            sorted_deep.ids,
        ),
        # After the listings: it changes CGPAs, which would move rows in the sorted pages above.
        Scenario(
            "update",
            "PATCH /students/{id} with If-Match: *, random existing ids",
            Script.PATCH,
            (Target("service", "/students/{id}"), Target("flat", "/students/{id}")),
        ),
        # Last: the rows it adds would shift the sorted pages above.
        Scenario(
            "register",
            "POST /students, a unique email each time",
            Script.REGISTER,
            (Target("service", "/students"), Target("flat", "/students")),
        ),
    )
