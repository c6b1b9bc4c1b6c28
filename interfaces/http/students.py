"""The /students routes: parse, call one use-case, map the result. Nothing else lives here."""

# No "from __future__ import annotations" here: dependency-injector reads the Annotated markers
# from the live signature, so the annotations must be real objects.

from decimal import Decimal
from typing import Annotated
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Request, status
from starlette.responses import Response

from application.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
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
from interfaces.container import Container
from interfaces.http.media import require_json, require_merge_patch
from interfaces.http.rendering import JsonResponse, student_document
from interfaces.http.schemas import (
    StudentCreate,
    StudentPageRead,
    StudentPatch,
    StudentRead,
    StudentReplace,
    problem_responses,
)

router = APIRouter(prefix="/students", tags=["students"])

StudentId = Annotated[UUID, "the student's id"]


@router.post(
    "",
    operation_id="register_student",
    summary="Register a student",
    status_code=status.HTTP_201_CREATED,
    response_model=StudentRead,
    responses={
        201: {
            "headers": {"Location": {"description": "URL of the new student", "schema": {"type": "string"}}}
        },
        **problem_responses(409, 415, 422, 500),
    },
    dependencies=[Depends(require_json)],
)
@inject
async def register_student(
    body: StudentCreate,
    request: Request,
    use_case: Annotated[RegisterStudent, Depends(Provide[Container.register_student])],
) -> Response:
    student = await use_case.execute(
        RegisterStudentCommand(name=body.name, email=body.email, department=body.department, cgpa=body.cgpa)
    )
    return JsonResponse(
        student_document(student),
        status_code=status.HTTP_201_CREATED,
        headers={"Location": str(request.url_for("get_student", student_id=str(student.id)))},
    )


@router.get(
    "",
    operation_id="list_students",
    summary="List students, one page at a time",
    response_model=StudentPageRead,
    responses=problem_responses(422, 500),
)
@inject
async def list_students(
    use_case: Annotated[ListStudents, Depends(Provide[Container.list_students])],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = (DEFAULT_PAGE_SIZE),
    cursor: Annotated[
        str | None, Query(max_length=2048, description="`next_cursor` of the previous page")
    ] = None,
    department: Annotated[str | None, Query(max_length=20, description="exact match")] = None,
    cgpa_min: Annotated[Decimal | None, Query(description="inclusive lower bound")] = None,
    cgpa_max: Annotated[Decimal | None, Query(description="inclusive upper bound")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="case-insensitive substring of the name")
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=100,
            description="comma list of name, email, cgpa, created_at; prefix - for descending",
            examples=["-cgpa,name"],
        ),
    ] = None,
) -> Response:
    page = await use_case.execute(
        ListStudentsRequest(
            limit=limit,
            cursor=cursor,
            department=department,
            cgpa_min=cgpa_min,
            cgpa_max=cgpa_max,
            q=q,
            sort=sort,
        )
    )
    return JsonResponse({"items": [student_document(s) for s in page.items], "next_cursor": page.next_cursor})


@router.get(
    "/{student_id}",
    operation_id="get_student",
    summary="Read one student",
    response_model=StudentRead,
    responses=problem_responses(404, 422, 500),
)
@inject
async def get_student(
    student_id: UUID,
    use_case: Annotated[GetStudent, Depends(Provide[Container.get_student])],
) -> Response:
    return JsonResponse(student_document(await use_case.execute(student_id)))


@router.put(
    "/{student_id}",
    operation_id="replace_student",
    summary="Replace a student's fields",
    response_model=StudentRead,
    responses=problem_responses(404, 409, 415, 422, 500),
    dependencies=[Depends(require_json)],
)
@inject
async def replace_student(
    student_id: UUID,
    body: StudentReplace,
    use_case: Annotated[ReplaceStudent, Depends(Provide[Container.replace_student])],
) -> Response:
    student = await use_case.execute(
        ReplaceStudentCommand(
            student_id=student_id,
            name=body.name,
            email=body.email,
            department=body.department,
            cgpa=body.cgpa,
        )
    )
    return JsonResponse(student_document(student))


@router.patch(
    "/{student_id}",
    operation_id="update_student",
    summary="Change some of a student's fields (JSON merge patch)",
    response_model=StudentRead,
    responses=problem_responses(404, 409, 415, 422, 500),
    dependencies=[Depends(require_merge_patch)],
)
@inject
async def update_student(
    student_id: UUID,
    body: StudentPatch,
    use_case: Annotated[UpdateStudent, Depends(Provide[Container.update_student])],
) -> Response:
    student = await use_case.execute(
        UpdateStudentCommand(
            student_id=student_id,
            name=body.name,
            email=body.email,
            department=body.department,
            cgpa=body.cgpa,
        )
    )
    return JsonResponse(student_document(student))


@router.delete(
    "/{student_id}",
    operation_id="remove_student",
    summary="Remove a student",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(404, 422, 500),
)
@inject
async def remove_student(
    student_id: UUID,
    use_case: Annotated[RemoveStudent, Depends(Provide[Container.remove_student])],
) -> Response:
    await use_case.execute(RemoveStudentCommand(student_id=student_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
