"""The /students routes: parse, call one use-case, map the result. Nothing else lives here."""

# No "from __future__ import annotations" here: dependency-injector reads the Annotated markers
# from the live signature, so the annotations must be real objects.

from typing import Annotated
from uuid import UUID

from dependency_injector.wiring import inject
from fastapi import APIRouter, Depends, Header, Query, Request, status
from starlette.responses import Response

from application.idempotency import MAX_KEY_LENGTH, IdempotencyKey
from application.preconditions import Precondition
from application.use_cases import (
    GetStudent,
    ListStudents,
    ListStudentsRequest,
    RegisterStudent,
    RegisterStudentCommand,
    RemoveStudent,
    RemoveStudentCommand,
    ReplaceStudent,
    ReplaceStudentCommand,
    UpdateStudent,
    UpdateStudentCommand,
)
from domain.student import Student
from interfaces.container import Container
from interfaces.http.conditional import (
    IF_MATCH_PARAMETER,
    IF_NONE_MATCH_PARAMETER,
    etag_of,
    if_match_precondition,
    if_none_match_header,
    matches_none,
)
from interfaces.http.exact_json import ExactJsonRoute
from interfaces.http.injection import Provide
from interfaces.http.links import link_to, with_query
from interfaces.http.media import (
    no_query_parameters,
    require_json,
    require_merge_patch,
    single_valued_query,
)
from interfaces.http.openapi import ETAG, LINK, LOCATION, REPLAYED
from interfaces.http.rendering import JsonResponse, student_document
from interfaces.http.schemas import (
    StudentCreate,
    StudentListQuery,
    StudentPageRead,
    StudentPatch,
    StudentRead,
    StudentReplace,
    problem_responses,
)
from interfaces.http.security import READ_ACCESS, WRITE_ACCESS, Writer

router = APIRouter(prefix="/students", tags=["students"], route_class=ExactJsonRoute)

# The If-Match header as the client sent it, judged by the use-case; documented by IF_MATCH_PARAMETER.
IfMatch = Annotated[Precondition, Depends(if_match_precondition)]
IfNoneMatch = Annotated[str | None, Depends(if_none_match_header)]
_IF_MATCH = {"parameters": [IF_MATCH_PARAMETER]}


# Every operation can be refused for the caller's token (401 without a valid one, 403 without the
# scope), for a body larger than MAX_BODY_BYTES (413), which is refused whatever the method, and
# when every database connection stays busy for DB_POOL_TIMEOUT (503, Retry-After).
_REFUSALS = (401, 403, 413, 503)


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
        },
        **problem_responses(*_REFUSALS, 409, 415, 422, 500),
    },
    dependencies=[WRITE_ACCESS, Depends(require_json), Depends(no_query_parameters)],
)
@inject
async def register_student(
    caller: Writer,
    body: StudentCreate,
    request: Request,
    use_case: Annotated[RegisterStudent, Depends(Provide[Container.register_student])],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            description="Makes retries safe: a retry with the same key and body replays the first "
            "answer (with `Idempotent-Replayed: true`); the same key with another body is 422; "
            "a retry while the first is still running is 409. Keys are kept 24 hours.",
        ),
    ] = None,
) -> Response:
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
    headers = {"Location": link_to(request, router.url_path_for("get_student", student_id=str(student.id)))}
    if registration.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _student_response(student, status.HTTP_201_CREATED, **headers)


@router.get(
    "",
    operation_id="list_students",
    summary="List students, one page at a time",
    response_model=StudentPageRead,
    responses={200: {"headers": LINK}, **problem_responses(*_REFUSALS, 422, 500)},
    dependencies=[READ_ACCESS, Depends(single_valued_query)],
)
@inject
async def list_students(
    request: Request,
    use_case: Annotated[ListStudents, Depends(Provide[Container.list_students])],
    query: Annotated[StudentListQuery, Query()],
) -> Response:
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
        next_page = link_to(
            request, router.url_path_for("list_students"), with_query(request, cursor=page.next_cursor)
        )
        headers["Link"] = f'<{next_page}>; rel="next"'
    return JsonResponse(
        {"items": [student_document(s) for s in page.items], "next_cursor": page.next_cursor},
        headers=headers,
    )


@router.get(
    "/{student_id}",
    operation_id="get_student",
    summary="Read one student",
    response_model=StudentRead,
    responses={
        200: {"headers": ETAG},
        304: {"description": "Not modified: If-None-Match names the current ETag", "headers": ETAG},
        **problem_responses(*_REFUSALS, 400, 404, 422, 500),
    },
    dependencies=[READ_ACCESS, Depends(no_query_parameters)],
    openapi_extra={"parameters": [IF_NONE_MATCH_PARAMETER]},
)
@inject
async def get_student(
    student_id: UUID,
    use_case: Annotated[GetStudent, Depends(Provide[Container.get_student])],
    if_none_match: IfNoneMatch,
) -> Response:
    student = await use_case.execute(student_id)
    if not matches_none(if_none_match, student):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag_of(student)})
    return _student_response(student)


@router.put(
    "/{student_id}",
    operation_id="replace_student",
    summary="Replace a student's fields",
    response_model=StudentRead,
    responses={
        200: {"headers": ETAG},
        **problem_responses(*_REFUSALS, 400, 404, 409, 412, 415, 422, 428, 500),
    },
    dependencies=[WRITE_ACCESS, Depends(require_json), Depends(no_query_parameters)],
    openapi_extra=_IF_MATCH,
)
@inject
async def replace_student(
    student_id: UUID,
    body: StudentReplace,
    use_case: Annotated[ReplaceStudent, Depends(Provide[Container.replace_student])],
    if_match: IfMatch,
) -> Response:
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
    "/{student_id}",
    operation_id="update_student",
    summary="Change some of a student's fields (JSON merge patch, RFC 7396)",
    response_model=StudentRead,
    responses={
        200: {"headers": ETAG},
        **problem_responses(*_REFUSALS, 400, 404, 409, 412, 415, 422, 428, 500),
    },
    dependencies=[WRITE_ACCESS, Depends(require_merge_patch), Depends(no_query_parameters)],
    openapi_extra={
        **_IF_MATCH,
        "requestBody": {
            "content": {
                "application/merge-patch+json": {"schema": {"$ref": "#/components/schemas/StudentPatch"}}
            }
        },
    },
)
@inject
async def update_student(
    student_id: UUID,
    body: StudentPatch,
    use_case: Annotated[UpdateStudent, Depends(Provide[Container.update_student])],
    if_match: IfMatch,
) -> Response:
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
    "/{student_id}",
    operation_id="remove_student",
    summary="Remove a student",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(*_REFUSALS, 400, 404, 412, 422, 428, 500),
    dependencies=[WRITE_ACCESS, Depends(no_query_parameters)],
    openapi_extra=_IF_MATCH,
)
@inject
async def remove_student(
    student_id: UUID,
    use_case: Annotated[RemoveStudent, Depends(Provide[Container.remove_student])],
    if_match: IfMatch,
) -> Response:
    await use_case.execute(RemoveStudentCommand(student_id=student_id, precondition=if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
