"""One module per use-case. Each use-case owns its transaction through the unit of work it is given."""

from application.use_cases.get_student import GetStudent
from application.use_cases.list_students import ListStudents, ListStudentsRequest, StudentPage
from application.use_cases.purge_idempotency_keys import PurgeExpiredIdempotencyKeys
from application.use_cases.register_student import (
    RegisterStudent,
    RegisterStudentCommand,
    Registration,
)
from application.use_cases.remove_student import RemoveStudent, RemoveStudentCommand
from application.use_cases.replace_student import ReplaceStudent, ReplaceStudentCommand
from application.use_cases.update_student import UpdateStudent, UpdateStudentCommand

__all__ = [
    "GetStudent",
    "ListStudents",
    "ListStudentsRequest",
    "PurgeExpiredIdempotencyKeys",
    "RegisterStudent",
    "RegisterStudentCommand",
    "Registration",
    "RemoveStudent",
    "RemoveStudentCommand",
    "ReplaceStudent",
    "ReplaceStudentCommand",
    "StudentPage",
    "UpdateStudent",
    "UpdateStudentCommand",
]
