"""The CSV and NDJSON readers: what they make of awkward files, chunk by chunk."""

from __future__ import annotations

import pytest

from application.use_cases.import_students import ImportRow, UnreadableFile
from domain.errors import FieldError
from interfaces.student_files import CSV, MAX_LINE_CHARACTERS, NDJSON, reader_for, shown


def _read(data: bytes, format: str = CSV, chunk: int = 3) -> list[ImportRow]:
    reader = reader_for(format)
    rows: list[ImportRow] = []
    for start in range(0, len(data), chunk):
        rows += reader.feed(data[start : start + chunk])
    return rows + reader.close()


def test_a_quoted_name_over_two_lines_is_one_row_and_the_next_line_counts_on() -> None:
    rows = _read(b'name,email,department,cgpa\n"Ada\nLovelace",a@x.org,CS,9\nBob,b@x.org,CS,8\n')
    assert [(r.line, r.name) for r in rows] == [(2, "Ada\nLovelace"), (4, "Bob")]


def test_names_from_the_file_are_escaped_where_a_terminal_or_json_would_take_them_raw() -> None:
    assert shown("nick") == "nick"
    assert shown("\x1b[31mred") == "'\\x1b[31mred'"
    assert shown("\ud800") == "'\\ud800'"
    rows = _read(b'{"name":"S","\\u001b[31m":1,"\\ud800":2}\n', NDJSON)
    assert {problem.field for problem in rows[0].problems} == {"'\\x1b[31m'", "'\\ud800'"}


def test_a_member_given_twice_is_an_error_not_the_last_one_winning() -> None:
    rows = _read(b'{"email":"a@x.org","email":"b@x.org"}\n', NDJSON)
    assert rows[0].problems == (FieldError("email", "is given twice"),)


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b'"na"me,email,department,cgpa\nA,a@x.org,CS,8\n', 1, "the header is not valid CSV"),
        (b"name,email,department,cgpa\rA,a@x.org,CS,8\r", 1, "bare carriage return"),
        ("name,email,department,cgpa\n".encode("utf-16"), 1, "UTF-16"),
        (b"", 1, "the file is empty"),
        (b"name,email\n", 1, "no column 'department'"),
        (b"name,email,department,cgpa,nick\n", 1, "unknown column 'nick'"),
        (
            b"name,email,department,cgpa\n" + b"x" * (MAX_LINE_CHARACTERS + 1) + b"\nA,a@x.org,CS,8\n",
            2,
            "longer than",
        ),
    ],
)
def test_what_makes_the_rest_of_a_file_unreadable_says_where_and_why(
    data: bytes, line: int, reason: str
) -> None:
    with pytest.raises(UnreadableFile) as unreadable:
        _read(data, chunk=1 << 20)
    assert unreadable.value.line == line
    assert reason in unreadable.value.reason
