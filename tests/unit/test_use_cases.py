"""Every use-case on the in-memory unit of work: no database, a fixed clock and sequential ids."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from application.errors import InvalidPrecondition, InvalidQuery, PreconditionRequired
from application.preconditions import AnyVersion, Missing, OneOfTags, Unreadable
from application.use_cases.get_student import GetStudent
from application.use_cases.list_students import ListStudents, ListStudentsRequest
from application.use_cases.register_student import RegisterStudent, RegisterStudentCommand
from application.use_cases.remove_student import RemoveStudent, RemoveStudentCommand
from application.use_cases.replace_student import ReplaceStudent, ReplaceStudentCommand
from application.use_cases.update_student import UpdateStudent, UpdateStudentCommand
from domain.errors import EmailAlreadyRegistered, InvalidStudentData, StaleVersion, StudentNotFound
from domain.student import Student
from infrastructure.memory.store import InMemoryDatabase
from infrastructure.memory.unit_of_work import InMemoryUnitOfWork
from tests.support.fakes import FixedClock, SequentialIds


class Service:
    """The use-cases wired as the container wires them, over one in-memory database."""

    def __init__(self, database: InMemoryDatabase, clock: FixedClock, ids: SequentialIds):
        self.database = database

        def uow() -> InMemoryUnitOfWork:
            return InMemoryUnitOfWork(database)

        self.register = RegisterStudent(uow(), clock, ids)
        self.get = GetStudent(uow())
        self.list = ListStudents(uow())
        self.replace = ReplaceStudent(uow(), clock)
        self.update = UpdateStudent(uow(), clock)
        self.remove = RemoveStudent(uow())

    async def add(
        self,
        name: str = "Ada",
        email: str = "ada@example.org",
        department: str = "cs",
        cgpa: str = "8.5",
    ) -> Student:
        registration = await self.register.execute(RegisterStudentCommand(name, email, department, cgpa))
        return registration.student


@pytest.fixture
def service(memory_database: InMemoryDatabase, clock: FixedClock, ids: SequentialIds) -> Service:
    return Service(memory_database, clock, ids)


async def test_register_assigns_id_and_time_and_stores(service: Service, clock: FixedClock) -> None:
    start = clock.current
    student = await service.add()
    assert student.id.int & 0xFFFF == 1
    assert student.created_at == start
    assert await service.get.execute(student.id) == student


async def test_register_duplicate_email_in_any_case_is_refused(service: Service) -> None:
    await service.add(email="ada@example.org")
    with pytest.raises(EmailAlreadyRegistered):
        await service.add(email="ADA@example.org")
    assert len(service.database.students) == 1


async def test_register_invalid_data_stores_nothing(service: Service) -> None:
    with pytest.raises(InvalidStudentData):
        await service.add(cgpa="12")
    assert service.database.students == {}


async def test_get_missing_is_not_found(service: Service) -> None:
    student = await service.add()
    await service.remove.execute(RemoveStudentCommand(student.id))
    with pytest.raises(StudentNotFound):
        await service.get.execute(student.id)


async def test_replace_changes_every_field_and_bumps_version(service: Service) -> None:
    student = await service.add()
    replaced = await service.replace.execute(
        ReplaceStudentCommand(
            student.id,
            name="Grace",
            email="grace@example.org",
            department="ee",
            cgpa="9.75",
            precondition=OneOfTags(frozenset({"1"})),
        )
    )
    assert (
        replaced.name,
        replaced.email,
        replaced.department,
        replaced.cgpa,
        replaced.version,
    ) == ("Grace", "grace@example.org", "EE", Decimal("9.75"), 2)
    assert replaced.updated_at > replaced.created_at
    assert await service.get.execute(student.id) == replaced


async def test_update_changes_only_given_fields(service: Service) -> None:
    student = await service.add()
    updated = await service.update.execute(UpdateStudentCommand(student.id, cgpa="9.00"))
    assert (updated.name, updated.cgpa, updated.version) == ("Ada", Decimal("9.00"), 2)


async def test_update_with_no_change_keeps_version(service: Service) -> None:
    student = await service.add()
    same = await service.update.execute(UpdateStudentCommand(student.id, name="Ada"))
    assert same == student


async def test_update_with_stale_version_changes_nothing(service: Service) -> None:
    student = await service.add()
    await service.update.execute(UpdateStudentCommand(student.id, name="First"))
    with pytest.raises(StaleVersion):
        await service.update.execute(
            UpdateStudentCommand(student.id, name="Second", precondition=OneOfTags(frozenset({"1"})))
        )
    assert (await service.get.execute(student.id)).name == "First"


async def test_update_to_another_students_email_is_refused(service: Service) -> None:
    await service.add(email="a@example.org")
    other = await service.add(email="b@example.org")
    with pytest.raises(EmailAlreadyRegistered):
        await service.update.execute(UpdateStudentCommand(other.id, email="A@example.org"))
    assert (await service.get.execute(other.id)).email == "b@example.org"


async def test_update_missing_student_is_not_found(service: Service, ids: SequentialIds) -> None:
    with pytest.raises(StudentNotFound):
        await service.update.execute(UpdateStudentCommand(ids.new_id(), name="X"))


async def test_remove_with_stale_version_keeps_student(service: Service) -> None:
    student = await service.add()
    with pytest.raises(StaleVersion):
        await service.remove.execute(
            RemoveStudentCommand(student.id, precondition=OneOfTags(frozenset({"5"})))
        )
    assert await service.get.execute(student.id) == student


async def test_list_pages_through_everything_with_cursors(service: Service) -> None:
    for i in range(7):
        await service.add(name=f"S{i}", email=f"s{i}@example.org", cgpa=f"{i % 3}.5")
    names, cursor = [], None
    while True:
        page = await service.list.execute(ListStudentsRequest(limit=3, cursor=cursor, sort="-cgpa"))
        names += [s.name for s in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert names == ["S5", "S2", "S4", "S1", "S6", "S3", "S0"]


async def test_last_page_has_no_cursor(service: Service) -> None:
    await service.add()
    page = await service.list.execute(ListStudentsRequest(limit=1))
    assert page.next_cursor is None
    assert len(page.items) == 1


@pytest.mark.parametrize(
    ("request_", "parameter"),
    [
        (ListStudentsRequest(limit=0), "limit"),
        (ListStudentsRequest(limit=201), "limit"),
        (ListStudentsRequest(sort="age"), "sort"),
        (ListStudentsRequest(sort="id"), "sort"),
        (ListStudentsRequest(sort="name,-name"), "sort"),
        (ListStudentsRequest(cursor="garbage"), "cursor"),
        (ListStudentsRequest(department="x"), "department"),
        (ListStudentsRequest(cgpa_min="11"), "cgpa_min"),
        (ListStudentsRequest(cgpa_min="8", cgpa_max="7"), "cgpa_min"),
        (ListStudentsRequest(q="x" * 101), "q"),
        # Refused for its length without being normalised (NFC orders a run of marks one by one).
        (ListStudentsRequest(q="a" + "\u0344" * 32_500 + "\u0316" * 32_500), "q"),
    ],
)
async def test_list_refuses_bad_requests(
    service: Service, request_: ListStudentsRequest, parameter: str
) -> None:
    with pytest.raises(InvalidQuery) as excinfo:
        await service.list.execute(request_)
    assert excinfo.value.parameter == parameter


async def test_list_filters_normalise_department(service: Service) -> None:
    cs = await service.add(department="CS")
    await service.add(email="b@example.org", department="EE")
    page = await service.list.execute(ListStudentsRequest(department="cs"))
    assert [s.id for s in page.items] == [cs.id]


async def test_tags_are_compared_as_octets(service: Service) -> None:
    # Found in review: If-Match "01" matched ETag "1", because tags were compared as integers.
    student = await service.add()
    for tags in ({"01"}, {"1.0"}, {" 1"}, set()):
        with pytest.raises(StaleVersion):
            await service.update.execute(
                UpdateStudentCommand(student.id, name="X", precondition=OneOfTags(frozenset(tags)))
            )
    assert (await service.get.execute(student.id)).name == "Ada"


async def test_a_list_of_tags_admits_any_of_them(service: Service) -> None:
    student = await service.add()
    updated = await service.update.execute(
        UpdateStudentCommand(student.id, name="X", precondition=OneOfTags(frozenset({"7", "1"})))
    )
    assert updated.version == 2


@pytest.mark.parametrize("writers", [2, 50])
async def test_any_version_lets_every_racing_writer_through(service: Service, writers: int) -> None:
    # Found in review: of 150 concurrent If-Match: * PATCHes, 58 were refused 412.
    student = await service.add()
    results = await asyncio.gather(
        *(
            service.update.execute(
                UpdateStudentCommand(student.id, cgpa=f"{i % 10}.25", precondition=AnyVersion())
            )
            for i in range(writers)
        )
    )
    assert sorted(r.version for r in results) == list(range(2, writers + 2))
    assert (await service.get.execute(student.id)).version == writers + 1


async def test_the_order_of_refusals_is_values_then_precondition_then_existence(
    service: Service, ids: SequentialIds
) -> None:
    student = await service.add()
    missing = ids.new_id()
    # Bad values are 422 whatever the precondition, and whether the student exists.
    for precondition in (Missing(), Unreadable("bad"), OneOfTags(frozenset({"9"}))):
        with pytest.raises(InvalidStudentData):
            await service.update.execute(UpdateStudentCommand(missing, cgpa="12", precondition=precondition))
    with pytest.raises(PreconditionRequired):
        await service.update.execute(UpdateStudentCommand(missing, cgpa="9", precondition=Missing()))
    with pytest.raises(InvalidPrecondition):
        await service.update.execute(UpdateStudentCommand(missing, cgpa="9", precondition=Unreadable("bad")))
    with pytest.raises(StudentNotFound):
        await service.update.execute(
            UpdateStudentCommand(missing, cgpa="9", precondition=OneOfTags(frozenset()))
        )
    with pytest.raises(StaleVersion):
        await service.update.execute(
            UpdateStudentCommand(student.id, cgpa="9", precondition=OneOfTags(frozenset()))
        )
    with pytest.raises(PreconditionRequired):
        await service.remove.execute(RemoveStudentCommand(student.id, precondition=Missing()))
    assert await service.get.execute(student.id) == student


async def test_remove_with_any_version_removes_and_then_is_not_found(service: Service) -> None:
    student = await service.add()
    await service.remove.execute(RemoveStudentCommand(student.id, precondition=AnyVersion()))
    with pytest.raises(StudentNotFound):
        await service.remove.execute(RemoveStudentCommand(student.id, precondition=AnyVersion()))
