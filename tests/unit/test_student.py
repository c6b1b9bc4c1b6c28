"""Domain rules of the Student entity."""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from domain import text
from domain.errors import InvalidStudentData
from domain.ids import UuidV7Generator
from domain.student import Student
from domain.text import NFC_SHORTENS_AT_MOST

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FORMULA = "must not start with =, +, - or @, which a spreadsheet would run as a formula"


def register(**overrides: object) -> Student:
    values: dict[str, object] = {
        "id": uuid4(),
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "department": "CS",
        "cgpa": "8.50",
        "now": NOW,
    }
    values.update(overrides)
    return Student.register(**values)  # type: ignore[arg-type]


def field_errors(excinfo: pytest.ExceptionInfo[InvalidStudentData]) -> dict[str, str]:
    return {e.field: e.message for e in excinfo.value.errors}


def test_register_normalises_values() -> None:
    student = register(name="  Ada  ", email=" ADA@Example.ORG ", department=" cs1 ", cgpa=9)
    assert (student.name, student.email, student.department) == ("Ada", "ada@example.org", "CS1")
    assert student.cgpa == Decimal("9.00")
    assert (student.version, student.created_at, student.updated_at) == (1, NOW, NOW)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "must not be blank"),
        ("name", "x" * 101, "must be at most 100 characters"),
        ("name", "bad\x00name", "must not contain control or invisible formatting characters"),
        ("email", "no-at-sign", "must be a valid email address"),
        ("email", "a@b", "must be a valid email address"),
        ("email", "a@@b.org", "must be a valid email address"),
        ("email", f"{'x' * 65}@example.org", "must be a valid email address"),
        ("department", "C", "must be 2 to 10 letters A-Z or digits"),
        ("department", "COMPUTERSCI", "must be 2 to 10 letters A-Z or digits"),
        ("department", "C-S", "must be 2 to 10 letters A-Z or digits"),
        ("cgpa", "8.555", "must have at most two decimal places"),
        ("cgpa", "10.01", "must be between 0.00 and 10.00"),
        ("cgpa", "-0.01", "must be between 0.00 and 10.00"),
        ("cgpa", "NaN", "must be a decimal number"),
        ("cgpa", Decimal("NaN"), "must be a finite number"),
        ("cgpa", Decimal("Infinity"), "must be a finite number"),
        ("cgpa", "eight", "must be a decimal number"),
        ("cgpa", "1_0", "must be a decimal number"),
        ("cgpa", "1e1", "must be a decimal number"),
        # Found by review: quantize() failed past its precision and the error escaped as a 500.
        ("cgpa", "1000000000000000000000000000000.001", "must be between 0.00 and 10.00"),
        ("cgpa", Decimal("1E+999999999"), "must be between 0.00 and 10.00"),
        ("cgpa", "8.755", "must have at most two decimal places"),
        ("cgpa", Decimal("8.749999999999999999"), "must have at most two decimal places"),
        ("department", "ßß", "must be 2 to 10 letters A-Z or digits"),
        ("department", "\u0131x", "must be 2 to 10 letters A-Z or digits"),  # dotless i
        ("name", "A\ud800b", "must not contain control or invisible formatting characters"),
        ("name", "Ada\u200bLovelace", "must not contain control or invisible formatting characters"),
        # Found by review: line and paragraph separators break a line as "\n" does.
        ("name", "Ada\u2028Lovelace", "must not contain control or invisible formatting characters"),
        ("name", "Ada\u2029Lovelace", "must not contain control or invisible formatting characters"),
        ("name", "Ada\u202eecalevoL", "must not contain control or invisible formatting characters"),
        ("name", "\u200dAda", "must not contain control or invisible formatting characters"),
        ("name", "Ada \u200d King", "must not contain control or invisible formatting characters"),
        ("name", "Ada\ue000", "must not contain control or invisible formatting characters"),
        # Found by review: names made only of what shows as nothing were not "blank".
        ("name", "\u3164", "must not be blank"),
        ("name", "\u2800\u2800", "must not be blank"),
        ("name", "\u0301", "must not be blank"),
        ("name", " \u115f\u1160 ", "must not be blank"),
        ("name", "1234", "must contain a letter"),
        # Found by review: str.strip() took these off the ends, so "Ada\n" was a name.
        ("name", "Ada\n", "must not contain control or invisible formatting characters"),
        ("name", "Ada\u2028", "must not contain control or invisible formatting characters"),
        ("name", "\x1cAda", "must not contain control or invisible formatting characters"),
        ("name", "Ada\x85", "must not contain control or invisible formatting characters"),
        ("email", "ada@example.org\n", "must be a valid email address"),
        ("name", "\u0301Ada", "must not start with a combining mark"),
        # Found by attack: a CSV export opened in a spreadsheet ran these as formulas.
        ("name", '=HYPERLINK("http://evil.example/","click")', FORMULA),
        ("name", "  +Ada Plus", FORMULA),
        ("name", "-Ada", FORMULA),
        ("name", "@Ada", FORMULA),
        ("email", "=cmd|'/Ccalc'!A0@example.org", FORMULA),
        ("email", " +ada@example.org", FORMULA),
        ("email", "-ada@example.org", FORMULA),
        ("cgpa", 8.5, "must be a decimal number"),
        ("cgpa", True, "must be a decimal number"),
        ("name", 42, "must be a string"),
    ],
)
def test_register_refuses_invalid_values(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidStudentData) as excinfo:
        register(**{field: value})
    assert field_errors(excinfo) == {field: message}


def test_every_invalid_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidStudentData) as excinfo:
        register(name="", email="x", department="?", cgpa="11")
    assert set(field_errors(excinfo)) == {"name", "email", "department", "cgpa"}


def test_a_revision_to_a_formula_is_refused_and_changes_nothing() -> None:
    student = register()
    with pytest.raises(InvalidStudentData) as excinfo:
        student.revise(now=NOW + timedelta(hours=1), name="=1+1")
    assert field_errors(excinfo) == {"name": FORMULA}
    assert (student.name, student.version) == ("Ada Lovelace", 1)


def test_a_formula_sign_inside_a_name_or_an_email_is_no_formula() -> None:
    student = register(name="Ada = Countess + Lovelace-King", email="ada+intake-2026@example.org")
    assert (student.name, student.email) == ("Ada = Countess + Lovelace-King", "ada+intake-2026@example.org")


def test_cgpa_boundaries_are_allowed() -> None:
    assert register(cgpa="0").cgpa == Decimal("0.00")
    assert register(cgpa="10.00").cgpa == Decimal("10.00")
    assert register(cgpa="7.100").cgpa == Decimal("7.10")  # trailing zeros add no precision
    assert register(cgpa=" 8.5 ").cgpa == Decimal("8.50")
    assert register(cgpa=Decimal("1E+1")).cgpa == Decimal("10.00")  # a JSON number such as 1e1
    assert register(department=" ee2 ").department == "EE2"


def test_revise_bumps_version_and_updated_at_once_for_many_fields() -> None:
    student = register()
    later = NOW + timedelta(hours=1)
    assert student.revise(now=later, name="Ada King", cgpa="9.10") is True
    assert (student.name, student.cgpa, student.version, student.updated_at) == (
        "Ada King",
        Decimal("9.10"),
        2,
        later,
    )
    assert student.created_at == NOW


def test_revise_with_same_values_changes_nothing() -> None:
    student = register()
    assert student.revise(now=NOW + timedelta(hours=1), name=" Ada Lovelace ", cgpa="8.5") is False
    assert (student.version, student.updated_at) == (1, NOW)


def test_revise_is_all_or_nothing() -> None:
    student = register()
    with pytest.raises(InvalidStudentData):
        student.revise(now=NOW, name="Valid New Name", cgpa="99")
    assert (student.name, student.version) == ("Ada Lovelace", 1)


@pytest.mark.parametrize(
    "name",
    [
        "Ada 👩\u200d💻",  # an emoji sequence joined by ZERO WIDTH JOINER
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian, with a ZERO WIDTH NON-JOINER
        "\u0928\u094d\u200d\u0928",  # Devanagari, with a ZERO WIDTH JOINER
        "Zoë",
        "\u674e\u5c0f\u9f99",
        "X \u00c6 A-12",
    ],
)
def test_names_people_write_are_taken_as_they_are(name: str) -> None:
    assert register(name=name).name == name


def test_spaces_of_any_kind_are_trimmed() -> None:
    assert register(name="\u00a0 Ada\u3000").name == "Ada"
    assert register(email="\u2003ada@example.org ").email == "ada@example.org"


def test_a_name_is_kept_in_one_unicode_spelling() -> None:
    composed, decomposed = "Jos\u00e9 Mart\u00ed", "Jose\u0301 Marti\u0301"
    assert register(name=decomposed).name == composed
    assert register(name=composed).name == composed


@pytest.mark.parametrize("cgpa", ["-0", "-0.0", "-0.00", Decimal("-0.00"), Decimal("-0E+3")])
def test_minus_zero_is_zero(cgpa: object) -> None:
    # Found in review: -0.0 was answered -0.0 by POST and 0.0 by every GET after it.
    stored = register(cgpa=cgpa).cgpa
    assert stored == 0
    assert str(stored) == "0.00"


def test_uuid7_ids_are_version_7_and_time_ordered() -> None:
    generator = UuidV7Generator()
    ids = [generator.new_id() for _ in range(5000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_made_many_at_once_are_the_ids_made_one_by_one() -> None:
    generator = UuidV7Generator()
    ids = [generator.new_id(), *generator.new_ids(5000), generator.new_id(), *generator.new_ids(3)]
    assert generator.new_ids(0) == []
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for made in ids[:3] + ids[-5:]:
        # What the uuid module itself makes of the same value, in every way a caller sees.
        same = UUID(str(made))
        assert (made, hash(made), made.version, made.variant) == (same, hash(same), 7, same.variant)
        assert pickle.loads(pickle.dumps(made)) == same


def test_a_forked_child_makes_ids_of_its_own() -> None:
    generator = UuidV7Generator()
    generator.new_id()  # the pool of random bytes is filled before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only writes its id and leaves
        os.write(write, generator.new_id().bytes)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    theirs = os.read(read, 16)
    os.close(read)
    ours = generator.new_id().bytes
    assert theirs[8:] != ours[8:]  # the random part, which the same pool would make the same


def test_a_child_forked_while_another_thread_makes_an_id_can_make_its_own() -> None:
    # Found by review: the generator's lock, held by the parent's other thread at the fork, was
    # held for ever in the child, whose first id never came.
    generator = UuidV7Generator()
    read, write = os.pipe()
    with generator._lock:  # as another thread inside new_id() would hold it
        child = os.fork()
        if child == 0:  # pragma: no cover - the child only writes its id and leaves
            os.write(write, generator.new_id().bytes)
            os._exit(0)
    os.close(write)
    answered = bool(select.select([read], [], [], 10)[0])
    if not answered:
        os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    made = os.read(read, 16) if answered else b""
    os.close(read)
    assert len(made) == 16, "the child made no id within 10 s"


def test_a_long_name_is_refused_for_its_length_before_any_other_rule_reads_it() -> None:
    # Found by review: the one-pattern ASCII shortcut, asked first, took 20 s over 64,000
    # letters and a control character (it tried every letter again); one CSV row stalled the
    # server. The length is asked first now, and the shortcut scans the text twice, linearly.
    with pytest.raises(InvalidStudentData) as excinfo:
        register(name="a" * 64_000 + "\x01")
    assert field_errors(excinfo) == {"name": "must be at most 100 characters"}


def test_a_long_run_of_combining_marks_is_refused_for_its_length_without_being_normalised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found by attack: NFC puts a run of combining marks in order one by one, and a CSV row of
    # 65,000 of them (in falling order) took 24 s, the server stalled. Only a text that can still
    # be a name in NFC is normalised now.
    normalised: list[int] = []
    original = text.nfc

    def nfc(text: str) -> str:
        normalised.append(len(text))
        return original(text)

    monkeypatch.setattr(text, "nfc", nfc)
    with pytest.raises(InvalidStudentData) as excinfo:
        register(name="a" + "\u0344" * 32_500 + "\u0316" * 32_500)
    assert field_errors(excinfo) == {"name": "must be at most 100 characters"}
    assert max(normalised, default=0) <= 100 * NFC_SHORTENS_AT_MOST


def test_a_name_that_nfc_shortens_to_its_limit_is_a_name() -> None:
    # Four code points each (a letter, three marks), one in NFC: 400 characters, and spaces
    # beyond, are a name of 100.
    decomposed = "\u03b1\u0313\u0300\u0345" * 100
    assert register(name=" " * 1000 + decomposed).name == "\u1f82" * 100
    with pytest.raises(InvalidStudentData):
        register(name=decomposed + "\u03b1")


def test_no_code_point_decomposes_into_more_than_the_bound_the_name_rule_counts_on() -> None:
    longest = max(
        len(unicodedata.normalize("NFD", chr(code)))
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF
    )
    assert longest <= NFC_SHORTENS_AT_MOST
