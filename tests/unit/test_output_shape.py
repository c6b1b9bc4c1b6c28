"""A student has one shape: what is stored, what is sent, what is documented and what is replayed.

The rendered body is written by hand for speed (interfaces/http/rendering.py); these tests fail,
naming the field, when a field is added to one of them and not to the others. Schemathesis
(tests/e2e/test_fuzz_openapi.py) checks every real response against the document as well.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import orjson

from application.idempotency import snapshot_of, student_from_snapshot
from domain.student import Student
from interfaces.http.rendering import student_document
from interfaces.http.schemas import StudentRead
from tests.support.builders import a_student

STORED = [field.name for field in dataclasses.fields(Student) if field.init]


def test_the_sent_body_has_exactly_the_stored_fields_in_their_order() -> None:
    assert list(student_document(a_student())) == STORED


def test_the_documented_schema_has_exactly_the_stored_fields() -> None:
    assert list(StudentRead.model_fields) == STORED


def test_the_sent_body_is_valid_against_the_documented_schema() -> None:
    student = a_student(cgpa=Decimal("9.05"))
    read = StudentRead.model_validate_json(orjson.dumps(student_document(student)), strict=False)
    assert read.model_dump() == {
        **{name: getattr(student, name) for name in STORED},
        "cgpa": 9.05,
    }


def test_an_idempotent_replay_gives_back_the_same_student() -> None:
    student = a_student(name="Zoë Ångström", cgpa=Decimal("0.05"))
    replayed = student_from_snapshot(snapshot_of(student))
    assert [getattr(replayed, name) for name in STORED] == [getattr(student, name) for name in STORED]
    assert replayed.events == []  # a replay is not a new registration
