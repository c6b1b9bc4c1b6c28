"""The /students routes: parse, call one use-case, map the result. Nothing else lives here.

What each operation can be refused with is not written here: interfaces/http/operations.py derives
it from what the route uses (its scope, its body, its If-Match, its use-case's ``raises``).
"""

from functools import cache
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request, status
from pydantic import BeforeValidator
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.responses import Response

from application.idempotency import IdempotencyKey
from application.use_cases.get_student import GetStudent
from application.use_cases.list_students import ListStudents, ListStudentsRequest
from application.use_cases.register_student import RegisterStudent, RegisterStudentCommand
from application.use_cases.remove_student import RemoveStudent, RemoveStudentCommand
from application.use_cases.replace_student import ReplaceStudent, ReplaceStudentCommand
from application.use_cases.update_student import UpdateStudent, UpdateStudentCommand
from domain.student import Student
from interfaces.container import Container
from interfaces.http.conditional import etag_of, matches_none
from interfaces.http.links import link_to, with_query
from interfaces.http.media import MERGE_PATCH
from interfaces.http.openapi import ETAG, LINK, LOCATION, REPLAYED
from interfaces.http.operations import Operation
from interfaces.http.rendering import JsonResponse, student_document
from interfaces.http.requests import (
    Caller,
    IdempotencyKeyHeader,
    IfMatch,
    IfMatchOnRead,
    IfNoneMatch,
    canonical_uuid,
    uses,
)
from interfaces.http.schemas import (
    StudentCreate,
    StudentListQuery,
    StudentPageRead,
    StudentPatch,
    StudentRead,
    StudentReplace,
)

# No "from __future__ import annotations" here: FastAPI reads these Annotated markers from the live
# signatures, so the annotations must be real objects.
# The names under /students that are not students' ids: interfaces/http/bulk.py's routes. Its
# own convertor keeps /{student_id} from matching them, so those routes may come after these (the
# student routes are matched first, on every request) and a PUT to /students/import is 405.
NOT_IDS = ("import", "export")


class _StudentIdSegment(StringConvertor):
    regex = f"(?!(?:{'|'.join(NOT_IDS)})$)[^/]+"


register_url_convertor("student_id", _StudentIdSegment())

StudentId = Annotated[
    UUID,
    BeforeValidator(canonical_uuid),
    Path(description="the student's id, as its representation gives it", json_schema_extra={"maxLength": 36}),
]
# Documented as merge-patch alone, the type whose meaning a PATCH has (RFC 7396): two types with
# one schema break openapi-python-client (its issue #1451). application/json is taken as well.
MergePatch = Annotated[StudentPatch, Body(media_type=MERGE_PATCH)]
Registration = Annotated[RegisterStudent, uses(Container.register_student)]
Listing = Annotated[ListStudents, uses(Container.list_students)]
Reading = Annotated[GetStudent, uses(Container.get_student)]
Replacing = Annotated[ReplaceStudent, uses(Container.replace_student)]
Updating = Annotated[UpdateStudent, uses(Container.update_student)]
Removing = Annotated[RemoveStudent, uses(Container.remove_student)]

router = APIRouter(prefix="/students", tags=["students"], route_class=Operation)


# Looked up once: Starlette's url_path_for walks every route on each call (some 20 us a POST).
@cache
def _student_path_template() -> str:
    return router.url_path_for("get_student", student_id="{}")


def _student_path(student_id: UUID) -> str:
    return _student_path_template().format(student_id)


@cache
def _listing_path() -> str:
    return router.url_path_for("list_students")


def _student_response(student: Student, status_code: int = 200, **headers: str) -> Response:
    return JsonResponse(
        student_document(student), status_code=status_code, headers={"ETag": etag_of(student), **headers}
    )


@router.post(
    "",
    operation_id="register_student",
    summary="Register a student",
    status_code=status.HTTP_201_CREATED,
    response_model=StudentRead,
    responses={
        201: {
            "description": "Registered (or, on a replay, registered earlier)",
            "headers": LOCATION | ETAG | REPLAYED,
        }
    },
)
async def register_student(
    request: Request,
    caller: Caller,
    body: StudentCreate,
    use_case: Registration,
    idempotency_key: IdempotencyKeyHeader,
) -> Response:
    """Register a new student. The answer is the student with its `ETag` and `Location`. With
    `Idempotency-Key`, a retry answers with the first result instead of registering twice; a taken
    email is 409."""
    # Keys are scoped to the caller: two callers can never replay each other's answers.
    key = IdempotencyKey(caller.subject, idempotency_key) if idempotency_key is not None else None
    registration = await use_case.execute(
        RegisterStudentCommand(
            name=body.name,
            email=body.email,
            department=body.department,
            cgpa=body.cgpa,
            idempotency_key=key,
        )
    )
    student = registration.student
    headers = {"Location": link_to(request, _student_path(student.id))}
    if registration.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _student_response(student, status.HTTP_201_CREATED, **headers)


@router.get(
    "",
    operation_id="list_students",
    summary="List students, one page at a time",
    response_model=StudentPageRead,
    responses={200: {"headers": LINK}},
)
async def list_students(
    request: Request, query: Annotated[StudentListQuery, Query()], use_case: Listing
) -> Response:
    """One page of students, filtered and sorted, with `next_cursor` (and `Link: rel="next"`) to the
    next page. A page costs the same however deep it is (keyset paging)."""
    page = await use_case.execute(
        ListStudentsRequest(
            limit=query.limit,
            cursor=query.cursor,
            department=query.department,
            cgpa_min=query.cgpa_min,
            cgpa_max=query.cgpa_max,
            q=query.q,
            sort=query.sort,
        )
    )
    headers = {}
    if page.next_cursor is not None:
        # RFC 8288: the same request, filters and all, with the cursor of the next page.
        listing = _listing_path()
        headers["Link"] = (
            f'<{link_to(request, listing, with_query(request, cursor=page.next_cursor))}>; rel="next"'
        )
    return JsonResponse(
        {"items": [student_document(s) for s in page.items], "next_cursor": page.next_cursor},
        headers=headers,
    )


@router.get(
    "/{student_id:student_id}",
    operation_id="get_student",
    summary="Read one student",
    response_model=StudentRead,
    responses={
        200: {"headers": ETAG},
        304: {"description": "Not modified: If-None-Match names the current ETag", "headers": ETAG},
    },
)
async def get_student(
    student_id: StudentId, use_case: Reading, if_none_match: IfNoneMatch, if_match: IfMatchOnRead
) -> Response:
    """One student, with its `ETag`. `If-None-Match` with that ETag answers 304; `If-Match` with
    another version answers 412."""
    student = await use_case.execute(student_id, if_match)
    if not matches_none(if_none_match, student):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag_of(student)})
    return _student_response(student)


@router.put(
    "/{student_id:student_id}",
    operation_id="replace_student",
    summary="Replace a student's fields",
    response_model=StudentRead,
    responses={200: {"headers": ETAG}},
)
async def replace_student(
    student_id: StudentId, body: StudentReplace, if_match: IfMatch, use_case: Replacing
) -> Response:
    """Replace every writable field of a student. `If-Match` must name the version last read (or `*`);
    a stale one is 412, none is 428."""
    student = await use_case.execute(
        ReplaceStudentCommand(
            student_id=student_id,
            name=body.name,
            email=body.email,
            department=body.department,
            cgpa=body.cgpa,
            precondition=if_match,
        )
    )
    return _student_response(student)


@router.patch(
    "/{student_id:student_id}",
    operation_id="update_student",
    summary="Change some of a student's fields (JSON merge patch, RFC 7396)",
    response_model=StudentRead,
    responses={200: {"headers": ETAG}},
)
async def update_student(
    student_id: StudentId, body: MergePatch, if_match: IfMatch, use_case: Updating
) -> Response:
    """Change some fields of a student (JSON merge patch, RFC 7396: name only what changes; null is
    refused). `If-Match` as for PUT. A change that changes nothing keeps the version. Send it as
    `application/merge-patch+json`; `application/json` is taken too, with the same meaning."""
    student = await use_case.execute(
        UpdateStudentCommand(
            student_id=student_id,
            name=body.name,
            email=body.email,
            department=body.department,
            cgpa=body.cgpa,
            precondition=if_match,
        )
    )
    return _student_response(student)


@router.delete(
    "/{student_id:student_id}",
    operation_id="remove_student",
    summary="Remove a student",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def remove_student(student_id: StudentId, if_match: IfMatch, use_case: Removing) -> Response:
    """Remove a student. `If-Match` as for PUT."""
    await use_case.execute(RemoveStudentCommand(student_id=student_id, precondition=if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
