"""The CSV and NDJSON readers: what they make of awkward files, chunk by chunk."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from types import FrameType
from typing import Any
from uuid import uuid4

import pytest

from application.use_cases.import_students import ImportRow, UnreadableFile
from domain.errors import FieldError
from domain.student import Student
from interfaces import student_files
from interfaces.student_files import CSV, MAX_LINE_CHARACTERS, NDJSON, Writer, reader_for, shown


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


_AWKWARD = (
    b"\xef\xbb\xbfemail,name,cgpa,department\r\n"
    b'a@x.org,"Lovelace, Ada",9,CS\r\n'
    b"\r\n"
    b'b@x.org,"Two\nlines ""quoted""",8,CS\n'
    b'c@x.org,Bad"Quo"te,7,CS\n'
    b"d@x.org,Short,7\n"
    b'e@x.org,"Open\n\nfor three lines",6,MATH\n'
    b"f@x.org,Not \xff UTF-8,5,CS\n"
    b"\n"
    b'g@x.org,"",4,CS\n'
    b"h@x.org,Stray\rreturn,3,CS\n"
    b"i@x.org,Last,2,CS"
)
# One record of 70 lines of 1,000 characters: longer than a line may be, so never closed.
_LONG = b'name,email,department,cgpa\nA,a@x.org,CS,8\n"' + (b"x" * 1000 + b"\n") * 70 + b'",b@x.org,CS,8\n'
# Quotes inside unquoted values, which the csv module takes as they are, while line by line the
# first opens a record that the second closes.
_STRAY = (
    b'name,email,department,cgpa\nOne"Quote,a@x.org,CS,8\nAnother"One,b@x.org,CS,7\n'
    + b"P,c@x.org,CS,6\n" * 5
)
_PLAIN = b"name,email,department,cgpa\n" + b"".join(
    f'"Student, {n}",s{n}@x.org,CS,{n % 10}\n'.encode() for n in range(200)
)


def _outcome(read: Callable[[], list[ImportRow]]) -> list[ImportRow] | tuple[int, str]:
    try:
        return read()
    except UnreadableFile as unreadable:
        return unreadable.line, unreadable.reason


@pytest.mark.parametrize("data", [_AWKWARD, _LONG, _STRAY, _PLAIN], ids=["awkward", "long", "stray", "plain"])
@pytest.mark.parametrize("chunk", [1, 2, 5, 17, 64, 1 << 20])
def test_rows_read_a_chunk_at_a_time_are_the_rows_read_line_by_line(data: bytes, chunk: int) -> None:
    # A chunk whose lines are whole records is read by the csv module in one go; the careful way,
    # line by line, is the reference (the reader for it is told to take no other).
    careful = reader_for(CSV)
    careful._records = careful._line_by_line  # type: ignore[attr-defined]
    expected = _outcome(lambda: careful.feed(data) + careful.close())
    assert expected == (3, "a quoted field is never closed") if data is _LONG else len(expected) > 5
    assert _outcome(lambda: _read(data, chunk=chunk)) == expected


def test_a_quote_in_a_value_then_one_that_opens_a_field_is_an_error_of_that_row() -> None:
    # Found by attack: the quotes of the line pair up, but the csv module takes the first as a
    # character and the second as an opening one, and read on into the next line's record.
    data = b'name,email,department,cgpa\nA,a"b,"x,8\nB,b@x.org,CS,7\n'
    for chunk in (1, 5, 1 << 20):
        rows = _read(data, chunk=chunk)
        assert rows[0].line == 2
        assert rows[0].problems == (FieldError("row", "is not valid CSV: unexpected end of data"),)
        assert (rows[1].line, rows[1].name) == (3, "B")


@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 20])
def test_a_utf16_file_is_told_whatever_the_chunks(chunk: int) -> None:
    with pytest.raises(UnreadableFile, match="UTF-16"):
        _read("name,email,department,cgpa\n".encode("utf-16"), chunk=chunk)


def test_a_line_too_long_at_the_end_is_named_by_its_own_number() -> None:
    data = b"name,email,department,cgpa\nA,a@x.org,CS,8\nB,b@x.org,CS,8\nC," + b"x" * 70_000 + b",CS,8"
    for chunk in (4096, 1 << 20):
        with pytest.raises(UnreadableFile) as unreadable:
            _read(data, chunk=chunk)
        assert unreadable.value.line == 4


def test_bytes_that_are_not_utf8_are_found_in_a_record_split_between_chunks() -> None:
    reader = reader_for(CSV)
    rows = reader.feed(b'name,email,department,cgpa\n"A\xffda,x\n') + reader.feed(b'y",a@u.org,CS,9\n')
    assert rows == [ImportRow(2, problems=(FieldError("name", "is not valid UTF-8"),))]


class _Scanned:
    """Stands in for the reader's not-UTF-8 pattern and counts the characters it is given."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern
        self.characters = 0

    def search(self, text: str) -> re.Match[str] | None:
        self.characters += len(text)
        return self._pattern.search(text)


def _characters_scanned(monkeypatch: pytest.MonkeyPatch, data: bytes, chunk: int) -> int:
    scanned = _Scanned(student_files._NOT_UTF8)
    with monkeypatch.context() as patch:
        patch.setattr(student_files, "_NOT_UTF8", scanned)
        assert [row.email for row in _read(data, chunk=chunk)] == ["a@x.org"]
    return scanned.characters


def _lines_run(data: bytes, chunk: int) -> int:
    """Lines of student_files.py run to read ``data``: the reader's work in Python."""
    run = 0

    def trace(frame: FrameType, event: str, _: object) -> Any:
        nonlocal run
        if frame.f_code.co_filename != student_files.__file__:
            return None
        if event == "line":
            run += 1
        return trace

    sys.settrace(trace)
    try:
        rows = _read(data, chunk=chunk)
    finally:
        sys.settrace(None)
    assert [row.email for row in rows] == ["a@x.org"]
    return run


def _long_line(characters: int) -> bytes:
    return b'name,email,department,cgpa\n"' + b"x" * characters + b'",a@x.org,CS,8\n'


def _tall_record(lines: int) -> bytes:
    return b'name,email,department,cgpa\n"' + b"x\n" * lines + b'",a@x.org,CS,8\n'


def test_a_long_line_sent_a_byte_at_a_time_is_read_in_work_that_grows_with_its_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found by attack: the unfinished line was joined to each new byte and searched again whole,
    # so an upload of 60 KB, a byte at a time, held a server's event loop for ten seconds.
    half, whole = (_characters_scanned(monkeypatch, _long_line(n), chunk=1) for n in (30_000, 60_000))
    assert whole < 3 * half


def test_a_quoted_field_over_many_lines_is_read_in_work_that_grows_with_its_length() -> None:
    # Found by attack: each line of an open record summed the lengths of all the lines before it,
    # and a field of 60,000 line breaks, in chunks of a kilobyte, took over a minute to read.
    half, whole = (_lines_run(_tall_record(n), chunk=1024) for n in (15_000, 30_000))
    assert whole < 3 * half


def test_a_header_naming_a_column_thousands_of_times_is_refused_for_the_first_repeat() -> None:
    # Found by attack: each column was counted against all the others, and a header of 21,800
    # (one 64 KiB line) held the reader 7 s.
    header = ",".join(["name", "email", "department", "cgpa", *["id"] * 13_000, *["version"] * 100])
    with pytest.raises(UnreadableFile) as unreadable:
        _read(header.encode() + b"\n", chunk=1 << 20)
    assert unreadable.value.reason == "the column 'id' is named twice"


def test_a_member_repeated_among_thousands_is_named_once() -> None:
    # Found by attack: each member was counted against all the others, 1.3 s a line of 8,600.
    members = [f'"m{n}":0' for n in range(5_000)]
    line = "{" + ",".join([*members, '"m7":1', '"m3":1']) + "}\n"
    rows = _read(line.encode(), NDJSON, chunk=1 << 20)
    assert rows[0].problems == (FieldError("m3", "is given twice"),)


def test_a_quoted_field_of_line_breaks_alone_is_never_closed_past_the_line_limit() -> None:
    # Found by attack: the record's length left its line breaks out, so one made of nothing else
    # was never too long, and an upload of them grew the server by nine bytes for each it sent.
    data = b'name,email,department,cgpa\n"' + b"\n" * (MAX_LINE_CHARACTERS + 10) + b'",a@x.org,CS,8\n'
    for chunk in (1024, 1 << 20):
        with pytest.raises(UnreadableFile) as unreadable:
            _read(data, chunk=chunk)
        assert (unreadable.value.line, unreadable.value.reason) == (2, "a quoted field is never closed")


def test_a_name_from_the_file_is_repeated_in_an_error_cut_short() -> None:
    # Found by attack: a member's name of 65,000 characters came back whole in the 422 answer,
    # past the 300 characters its schema allows.
    rows = _read(b'{"' + "\u0085".encode() * 65_000 + b'":0}\n', NDJSON, chunk=1 << 20)
    (problem,) = rows[0].problems
    assert problem.field.endswith("...")
    assert len(problem.field) <= 300
    with pytest.raises(UnreadableFile) as unreadable:
        _read(b"name,email,department,cgpa," + b"x" * 10_000 + b"\n", chunk=1 << 20)
    assert unreadable.value.reason.startswith(f"unknown column '{'x' * 24}'...; ")
    assert shown("\U0001f600" * 30) == "\U0001f600" * 24 + "..."


def test_a_name_or_email_stored_before_formulas_were_refused_is_exported_as_text() -> None:
    """Found by attack: such a cell ran as a formula where the registrar opened the export."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    # Made as a row loaded from the store is: the rules of today are not asked.
    stored = Student(
        uuid4(), '=HYPERLINK("http://evil.example/")', "-x@example.org", "CS", Decimal("8.5"), when, when
    )
    plain = Student(uuid4(), "Ada = Lovelace", "ada+1@example.org", "CS", Decimal("8.5"), when, when)
    lines = Writer(CSV).page([stored, plain]).decode().splitlines()
    assert lines[0].split(",")[1:3] == ['"\'=HYPERLINK(""http://evil.example/"")"', "'-x@example.org"]
    assert lines[1].split(",")[1:3] == ["Ada = Lovelace", "ada+1@example.org"]
    # NDJSON is read by programs, not spreadsheets: it keeps the text as stored.
    assert b'"name":"=HYPERLINK' in Writer(NDJSON).page([stored])


def test_nan_in_an_ndjson_line_is_not_json() -> None:
    data = b'{"name": "Ada", "email": "a@x.org", "department": "CS", "cgpa": NaN}\n'
    [row] = _read(data, NDJSON)
    assert row.problems == (FieldError("row", "is not valid JSON: NaN is not a JSON number"),)
