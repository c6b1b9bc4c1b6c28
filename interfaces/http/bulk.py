"""The bulk routes: a whole file of students in (all rows or none), every student out.

Both need the ``students:admin`` scope. Bodies stream both ways: an import is checked and staged
as it arrives (up to IMPORT_MAX_BYTES), an export is written a page at a time, so neither holds a
file in memory. The file formats are interfaces/student_files.py's, as the command line's are.
"""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from application.idempotency import IdempotencyKey
from application.use_cases.export_students import ExportStudents
from application.use_cases.import_students import (
    ImportRow,
    ImportStudents,
    ImportStudentsCommand,
    OnConflict,
    UnreadableFile,
)
from domain.student import Student
from interfaces.container import Container
from interfaces.gc_policy import bulk_work
from interfaces.http.head import is_head
from interfaces.http.media import media_type_of
from interfaces.http.openapi import REPLAYED
from interfaces.http.operations import Operation, accepts, refuses, requires
from interfaces.http.problems import HttpProblem
from interfaces.http.rendering import JsonResponse
from interfaces.http.requests import Caller, IdempotencyKeyHeader, uses
from interfaces.http.schemas import ImportResult
from interfaces.scopes import ADMIN
from interfaces.student_files import CSV, MEDIA_TYPES, NDJSON, Writer, reader_for

# No "from __future__ import annotations" here: FastAPI reads these Annotated markers at run time.
Importing = Annotated[ImportStudents, uses(Container.import_students)]
Exporting = Annotated[ExportStudents, uses(Container.export_students)]
_FORMAT_OF = {media: format for format, media in MEDIA_TYPES.items()}

router = APIRouter(prefix="/students", tags=["bulk"], route_class=Operation)

_IMPORT_DESCRIPTION = """\
A whole file of students, in one transaction: every row is imported, or none is.

Send CSV (`text/csv`, UTF-8, a header `name,email,department,cgpa` in any order, with or without a
byte order mark, quoted fields, CRLF or LF) or NDJSON (`application/x-ndjson`, one JSON object per
line with those members). The columns an export adds (`id`, `version`, `created_at`,
`updated_at`) are read past. Each row is checked by the rules of `POST /students`; an email twice
in the file, or one a student already has (unless `on_conflict=update`), is an error too.

When any row is wrong nothing is written, and the answer is 422 with each bad row's `line`,
`field` and `message` in `errors` (the first IMPORT_MAX_ERRORS, 100 by default, in line order;
`detail` says how many there were in all). With `Idempotency-Key`, a retry of the same file
answers with the first import's summary.
"""


async def _rows(request: Request, format: str) -> AsyncIterator[ImportRow]:
    reader = reader_for(format)
    try:
        async for chunk in request.stream():
            for row in reader.feed(chunk):
                yield row
    except ClientDisconnect:
        # The client went, or the body grew past the limit (BodySizeLimit answers 413 then).
        raise UnreadableFile(reader.lines_read + 1, "the upload ended before the file did") from None
    for row in reader.close():
        yield row


_UTF8 = ("utf-8", "utf8")


def _format_of(request: Request) -> str:
    """The file's format, by Content-Type; a charset other than UTF-8 is 415 (other parameters,
    RFC 4180's ``header=present`` say, change nothing)."""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            for parameter in value.decode("latin-1").split(";")[1:]:
                key, _, given = parameter.partition("=")
                charset = given.strip().strip('"').lower()
                if key.strip().lower() == "charset" and charset not in _UTF8:
                    raise HttpProblem(
                        415,
                        "unsupported-media-type",
                        "an import is read as UTF-8; send charset=utf-8 or none",
                    )
    return _FORMAT_OF[media_type_of(request.scope)]


# The document's examples. An export's is what Writer writes for one student.
_IMPORT_EXAMPLES = {
    MEDIA_TYPES[CSV]: "name,email,department,cgpa\r\n"
    "Ada Lovelace,ada@example.org,CS,8.75\r\n"
    '"Hopper, Grace",grace@example.org,MATH,9.5\r\n',
    MEDIA_TYPES[
        NDJSON
    ]: '{"name": "Ada Lovelace", "email": "ada@example.org", "department": "CS", "cgpa": 8.75}\n'
    '{"name": "Hopper, Grace", "email": "grace@example.org", "department": "MATH", "cgpa": "9.50"}\n',
}
_EXAMPLE_STUDENT = Student(
    id=UUID("01890a5d-ac96-774b-bcce-b302099a8057"),
    name="Ada Lovelace",
    email="ada@example.org",
    department="CS",
    cgpa=Decimal("8.75"),
    created_at=datetime(2026, 9, 1, 9, 30, tzinfo=UTC),
    updated_at=datetime(2026, 9, 1, 9, 30, tzinfo=UTC),
)
_EXPORT_EXAMPLES = {
    media: (Writer(format).header() + Writer(format).page([_EXAMPLE_STUDENT])).decode()
    for format, media in MEDIA_TYPES.items()
}


@router.post(
    "/import",
    operation_id="import_students",
    summary="Import a file of students, all rows or none",
    description=_IMPORT_DESCRIPTION,
    response_model=ImportResult,
    responses={200: {"description": "Imported (or, as a dry run, checked)", "headers": REPLAYED}},
)
@requires(ADMIN)
@accepts(
    MEDIA_TYPES[CSV],
    MEDIA_TYPES[NDJSON],
    examples=_IMPORT_EXAMPLES,
)
async def import_students(
    request: Request,
    caller: Caller,
    use_case: Importing,
    idempotency_key: IdempotencyKeyHeader,
    on_conflict: Annotated[
        OnConflict,
        Query(description="a row whose email a student has: an error, or update that student to it"),
    ] = OnConflict.ERROR,
    dry_run: Annotated[bool, Query(description="check every row and count; write nothing")] = False,
) -> Response:
    format = _format_of(request)
    key = IdempotencyKey(caller.subject, idempotency_key) if idempotency_key is not None else None
    with bulk_work():
        summary = await use_case.execute(
            ImportStudentsCommand(
                rows=_rows(request, format), on_conflict=on_conflict, dry_run=dry_run, idempotency_key=key
            )
        )
    headers = {"Idempotent-Replayed": "true"} if summary.replayed else {}
    return JsonResponse(
        {
            "imported": summary.imported,
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "rows": summary.rows,
            "dry_run": summary.dry_run,
        },
        headers=headers,
    )


_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def _weighted(accept: str) -> list[tuple[float, int, str]]:
    """Accept's media ranges as (weight, position, range), RFC 9110 12.5.1; unreadable weights 0."""
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        # RFC 9110's qvalue: 0 to 1 with at most three decimals ("inf", "nan", "1e0" are none); a
        # range whose weight is unreadable, or given twice, counts as refused.
        named = [
            (key.strip().lower(), value.strip()) for key, _, value in (p.partition("=") for p in parameters)
        ]
        weights = [value for key, value in named if key == "q"]
        weight = 1.0 if not weights else 0.0
        if len(weights) == 1 and _QVALUE.fullmatch(weights[0]):
            weight = float(weights[0])
        # An export is UTF-8: a range asking for another charset is refused, as with q=0.
        if any(key == "charset" and value.strip('"').lower() not in _UTF8 for key, value in named):
            weight = 0.0
        if media:
            ranges.append((weight, position, media.lower()))
    return ranges


def _export_format(request: Request) -> str:
    """CSV or NDJSON, by Accept: the acceptable one of highest weight (CSV on a tie, or with no
    Accept at all); q=0 refuses a type. Neither acceptable: 406."""
    ranges = _weighted(request.headers.get("accept", "")) or [(1.0, 0, "*/*")]
    best: tuple[float, str] | None = None
    for format in (CSV, NDJSON):
        media = MEDIA_TYPES[format]
        kind = media.split("/")[0]
        # The most specific range naming this type decides its weight (RFC 9110 12.5.1).
        matching = [r for r in ranges if r[2] == media] or [r for r in ranges if r[2] == f"{kind}/*"]
        matching = matching or [r for r in ranges if r[2] == "*/*"]
        # Named twice as specifically: the higher weight counts, wherever it is in the list.
        weight = max((r[0] for r in matching), default=0.0)
        if weight > 0 and (best is None or weight > best[0]):
            best = (weight, format)
    if best is None:
        raise HttpProblem(
            406,
            "not-acceptable",
            f"an export is {MEDIA_TYPES[CSV]} or {MEDIA_TYPES[NDJSON]}; ask for one in Accept",
        )
    return best[1]


@router.get(
    "/export",
    operation_id="export_students",
    summary="Every student, as CSV or NDJSON",
    description=(
        "Streams every student in id order (the order they were registered), as `text/csv` "
        "(the default) or `application/x-ndjson`, both UTF-8, chosen by `Accept` (its weights "
        "count; q=0, or a charset other than UTF-8, refuses). A student registered while the "
        "export runs is at its end; one removed meanwhile may be missing. The file imports as it "
        "is (`POST /students/import`)."
    ),
    response_class=Response,
    responses={
        200: {
            "description": "The students",
            "content": {
                media: {"schema": {"type": "string"}, "example": example}
                for media, example in _EXPORT_EXAMPLES.items()
            },
        },
    },
)
@requires(ADMIN)
@refuses(406)
async def export_students(request: Request, use_case: Exporting) -> Response:
    writer = Writer(_export_format(request))
    if is_head(request.scope):
        # As the GET's: streamed, so no length is known.
        head = Response(media_type=writer.media_type)
        del head.headers["content-length"]
        return head
    pages = use_case.pages()
    # The first page before the first byte: a database that cannot serve is still a 503.
    first = await anext(pages, None)

    async def body() -> AsyncIterator[bytes]:
        with bulk_work():
            yield writer.header()
            if first is not None:
                yield writer.page(first)
            async for page in pages:
                yield writer.page(page)

    return StreamingResponse(body(), media_type=writer.media_type)
