"""ExportStudents: every student, in id order (the order they were registered), page by page.

Each page is read in a short unit of work of its own, so an export that a slow reader takes an
hour over holds no connection and no snapshot in the meantime. Paging by id (keyset) hands out
each student at most once, and every student that exists from the start of the export to its end
exactly once; one registered meanwhile appears at the end, one removed meanwhile may be missing,
and a revision meanwhile may or may not be seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from application.listing import StudentQuery
from application.ports import UnitOfWork
from domain.student import Student

DEFAULT_PAGE_SIZE = 1000


class ExportStudents:
    raises: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, uow: UnitOfWork, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self._uow = uow
        self._page_size = page_size

    async def pages(self) -> AsyncIterator[list[Student]]:
        """Every student, one page at a time; memory holds one page, whatever the total."""
        query = StudentQuery(limit=self._page_size)
        while True:
            async with self._uow as uow:
                page = await uow.students.find_page(query)
            if page:
                yield page
            if len(page) < self._page_size:
                return
            query = StudentQuery(limit=self._page_size, after=(page[-1].id,))
