"""Student files, CSV and NDJSON: read as a stream of rows, written as a stream of lines.

Both the command line and the HTTP API read and write them here, so a file one writes the other
reads. Reading is push-style (:meth:`RowReader.feed` takes bytes as they arrive, whatever their
size, and gives back the rows they complete), so memory holds one chunk and one unfinished line,
never the file.

CSV is RFC 4180 in UTF-8, with or without a byte order mark, lines ending in CRLF or LF, fields
quoted where they hold a comma, a quote or a line break. Its first line names the columns: ``name``,
``email``, ``department`` and ``cgpa``, in any order; the columns an export adds (``id``,
``version``, ``created_at``, ``updated_at``) are read past, since the service assigns those. NDJSON
is one JSON object per line with the same members; a number is read exactly (``8.75``, never a
float). Blank lines are skipped in both.

A row that cannot be a student (the wrong number of fields, a line that is not a JSON object, a
member no student has) is handed on with its problem, so that the import reports it with the
rest. What makes the remainder of the file unreadable (no header, a line longer than
``MAX_LINE_CHARACTERS``, a quote left open at the end) stops the import: ``UnreadableFile``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import orjson

from application.use_cases.import_students import ImportRow, UnreadableFile
from application.wording import counted, decoder_complaint
from domain.errors import FieldError
from domain.student import FORMULA_STARTS, Student
from interfaces.strict_json import NotAJsonNumber, refuse_constant

CSV = "csv"
NDJSON = "ndjson"
FORMATS = (CSV, NDJSON)
MEDIA_TYPES = {CSV: "text/csv", NDJSON: "application/x-ndjson"}
FIELDS = ("name", "email", "department", "cgpa")
# What an export writes beyond FIELDS, and an import reads past.
ASSIGNED = ("id", "version", "created_at", "updated_at")
EXPORT_COLUMNS = ("id", *FIELDS, "version", "created_at", "updated_at")
# No student's line is longer: a longer one is not a student file (or a quote was never closed).
MAX_LINE_CHARACTERS = 64 * 1024

# What a decoder given bytes that are not UTF-8 leaves in their place (errors="surrogateescape").
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UTF16_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


# Characters of a name from the file that an error repeats; the rest is cut to "...". Escaped, each
# is at most 10 characters (\U0001f600): an error's field stays within the 300 its schema allows.
_SHOWN_CHARACTERS = 24


def shown(name: str) -> str:
    """A name from the file as an error may repeat it: escaped unless plainly printable, so that
    neither a terminal (an escape sequence) nor a JSON answer (a lone surrogate) takes it raw, and
    cut short, so that a name of a line's length does not make an error of that length."""
    cut = name[:_SHOWN_CHARACTERS]
    text = cut if cut.isprintable() and not _SURROGATE.search(cut) else ascii(cut)
    return text if cut == name else f"{text}..."


class _DuplicateMember(ValueError):
    pass


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        # The first name that is given twice; counted once (a line can hold thousands of names).
        times = Counter(name for name, _ in pairs)
        raise _DuplicateMember(next(name for name, _ in pairs if times[name] > 1))
    return document


class RowReader:
    """Rows from a file's bytes, fed in chunks of any size; :meth:`close` at the end."""

    def __init__(self) -> None:
        # "utf-8-sig" drops a byte order mark at the start, and only there.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
        # The unfinished line, in the pieces it came in: joined only once a line break ends it,
        # so that a long line sent a few bytes at a time costs its length, not its length squared.
        self._pending: list[str] = []
        self._pending_length = 0
        self._pending_not_utf8 = False
        self._line = 0  # lines of the file handed on so far
        # The file's first bytes, until there are two to tell a UTF-16 byte order mark by.
        self._head: bytes | None = b""

    @property
    def lines_read(self) -> int:
        return self._line

    def feed(self, data: bytes) -> list[ImportRow]:
        if self._head is not None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return []
            self._head = None
            if data.startswith(_UTF16_MARKS):
                raise UnreadableFile(1, "the file is UTF-16; save it as UTF-8")
        text = self._decoder.decode(data)
        not_utf8 = _NOT_UTF8.search(text) is not None
        if "\n" not in text:
            self._hold(text, not_utf8=not_utf8)
            return []
        lines = text.split("\n")
        lines[0] = "".join([*self._pending, lines[0]])
        not_utf8 = not_utf8 or self._pending_not_utf8
        self._pending, self._pending_length, self._pending_not_utf8 = [], 0, False
        unfinished = lines.pop()
        rows = self._lines(lines, not_utf8=not_utf8)
        self._hold(unfinished, not_utf8=_NOT_UTF8.search(unfinished) is not None)
        return rows

    def _hold(self, text: str, *, not_utf8: bool) -> None:
        """Keep ``text`` as more of the unfinished line (after the lines before it are counted:
        the unfinished one is the next)."""
        if text:
            self._pending.append(text)
            self._pending_length += len(text)
            self._pending_not_utf8 = self._pending_not_utf8 or not_utf8
        if self._pending_length > MAX_LINE_CHARACTERS:
            raise UnreadableFile(self._line + 1, f"a line is longer than {MAX_LINE_CHARACTERS} characters")

    def close(self) -> list[ImportRow]:
        rest = "".join(self._pending) + self._decoder.decode(self._head or b"", final=True)
        self._head = None
        self._pending, self._pending_length, self._pending_not_utf8 = [], 0, False
        rows = self._lines([rest], not_utf8=_NOT_UTF8.search(rest) is not None) if rest else []
        return rows + self._end()

    def _lines(self, lines: list[str], *, not_utf8: bool) -> list[ImportRow]:
        raise NotImplementedError

    def _end(self) -> list[ImportRow]:
        return []


def reader_for(format: str) -> RowReader:
    if format == CSV:
        return CsvReader()
    if format == NDJSON:
        return NdjsonReader()
    raise ValueError(f"unknown format {format!r}; use {' or '.join(FORMATS)}")


def _not_utf8(values: dict[str, str]) -> tuple[FieldError, ...]:
    return tuple(
        FieldError(name, "is not valid UTF-8") for name, value in values.items() if _NOT_UTF8.search(value)
    )


class _LineByLine(Exception):
    """What the csv module read of a chunk may not be what reading it line by line gives."""


class CsvReader(RowReader):
    def __init__(self) -> None:
        super().__init__()
        # Where each of FIELDS is in a row, in their order, once the header is read.
        self._columns: tuple[int, ...] | None = None
        self._width = 0
        # An unfinished record: a quoted field that goes on past a line break.
        self._record: list[str] = []
        self._record_line = 0
        self._record_length = 0  # characters in self._record, kept as it grows, never summed
        self._quotes = 0

    def _lines(self, lines: list[str], *, not_utf8: bool) -> list[ImportRow]:
        # A record that goes on from the chunk before may hold bytes that were not UTF-8 there.
        not_utf8 = not_utf8 or bool(self._record)
        # The header, and a record that goes on from the chunk before, a line at a time.
        rows: list[ImportRow] = []
        start = 0
        while start < len(lines) and (self._columns is None or self._record):
            rows += self._line_by_line(lines[start : start + 1], not_utf8=not_utf8)
            start += 1
        lines = lines[start:]
        return rows + self._records(lines, not_utf8=not_utf8) if lines else rows

    def _records(self, lines: list[str], *, not_utf8: bool) -> list[ImportRow]:
        # Most chunks of a file: the header is read, no record is open, every line is short and
        # the quotes pair up, so the chunk ends where a record does. The csv module then reads
        # the lines as they are, in one go, and counts them (line_num): what _line_by_line does,
        # less the Python it takes per line. What could make the two differ is read again line by
        # line, the reference: a CSV error, a long record, and a quote inside a value (where the
        # quotes of the lines no longer tell where a record ends, as _line_by_line has them tell).
        text = "\n".join(lines)
        if text.count('"') % 2 or max(map(len, lines)) > MAX_LINE_CHARACTERS:
            return self._line_by_line(lines, not_utf8=not_utf8)
        try:
            rows = self._block(text, lines, not_utf8=not_utf8)
        except (csv.Error, _LineByLine):
            return self._line_by_line(lines, not_utf8=not_utf8)
        self._line += len(lines)
        return rows

    def _block(self, text: str, lines: list[str], *, not_utf8: bool) -> list[ImportRow]:
        """The rows of ``lines`` (``text``, joined), whole records that start after ``self._line``."""
        rows: list[ImportRow] = []
        # Lines end at "\n" only, and keep it (a quoted line break is part of its field).
        parsed = csv.reader(io.StringIO(text + "\n", newline="\n"), strict=True)
        plain = self._columns == tuple(range(len(FIELDS))) and self._width == len(FIELDS) and not not_utf8
        quoted = '"' in text
        done = 0  # lines read before this record
        for fields in parsed:
            line, taken, done = self._line + done + 1, done, parsed.line_num
            # Its characters with the line breaks between its lines, as _line_by_line counts them.
            if done - taken > 1 and sum(map(len, lines[taken:done])) + done - taken > MAX_LINE_CHARACTERS:
                raise _LineByLine  # a quoted field over many lines, which may be one never closed
            if len(fields) == len(FIELDS) and plain:
                name, email, department, cgpa = fields
                if quoted and ('"' in name or '"' in email or '"' in department or '"' in cgpa):
                    raise _LineByLine
                rows.append(ImportRow(line, name, email, department, cgpa))
            elif quoted and any('"' in value for value in fields):
                raise _LineByLine
            elif fields and fields != [""]:  # not a blank line
                rows.append(self._row(line, fields, not_utf8=not_utf8))
        return rows

    def _line_by_line(self, lines: list[str], *, not_utf8: bool) -> list[ImportRow]:
        records: list[tuple[int, str]] = []
        for line in lines:
            self._line += 1
            if len(line) > MAX_LINE_CHARACTERS:
                raise UnreadableFile(self._line, f"a line is longer than {MAX_LINE_CHARACTERS} characters")
            if not self._record:
                self._record_line = self._line
            self._record.append(line)
            self._record_length += len(line) + 1  # with its line break: a record of them alone counts
            # A line break ends the record where the quotes seen so far pair up ('""' is one).
            self._quotes += line.count('"')
            if self._quotes % 2 == 0:
                records.append((self._record_line, "\n".join(self._record) + "\n"))
                self._record, self._record_length, self._quotes = [], 0, 0
            elif self._record_length > MAX_LINE_CHARACTERS:
                raise UnreadableFile(self._record_line, "a quoted field is never closed")
        return self._rows(records, not_utf8=not_utf8)

    def _end(self) -> list[ImportRow]:
        if self._record:
            raise UnreadableFile(self._record_line, "a quoted field is never closed")
        if self._columns is None:
            raise UnreadableFile(
                1, f"the file is empty; a CSV file starts with the header {','.join(FIELDS)}"
            )
        return []

    def _rows(self, records: list[tuple[int, str]], *, not_utf8: bool) -> list[ImportRow]:
        rows: list[ImportRow] = []
        for line, text in records:
            try:
                # A reader of its own per record: where the csv module does not end a record
                # where its quotes pair up (a quote inside a value, then one opening a field),
                # it must not read on into the next record's line.
                fields = next(csv.reader((text,), strict=True))
            except csv.Error as exc:
                if self._columns is None:
                    raise UnreadableFile(line, _header_unreadable(str(exc))) from None
                rows.append(ImportRow(line, problems=(FieldError("row", f"is not valid CSV: {exc}"),)))
                continue
            if not fields or fields == [""]:
                continue  # a blank line
            if self._columns is None:
                self._columns = self._header(line, fields)
                self._width = len(fields)
                continue
            rows.append(self._row(line, fields, not_utf8=not_utf8))
        return rows

    def _header(self, line: int, fields: list[str]) -> tuple[int, ...]:
        names = [field.strip().lower() for field in fields]
        expected = f"a CSV file starts with the header {','.join(FIELDS)}"
        unknown = [name for name in names if name not in FIELDS and name not in ASSIGNED]
        if unknown:
            column = unknown[0]
            quoted = ascii(column[:_SHOWN_CHARACTERS]) + ("..." if len(column) > _SHOWN_CHARACTERS else "")
            raise UnreadableFile(line, f"unknown column {quoted}; {expected}")
        # Counted once: a header of one line can name thousands of columns.
        times = Counter(names)
        repeated = sorted(name for name, count in times.items() if count > 1)
        if repeated:
            raise UnreadableFile(line, f"the column {repeated[0]!a} is named twice")
        missing = [name for name in FIELDS if name not in names]
        if missing:
            raise UnreadableFile(line, f"no column {missing[0]!r}; {expected}")
        return tuple(names.index(name) for name in FIELDS)

    def _row(self, line: int, fields: list[str], *, not_utf8: bool) -> ImportRow:
        if len(fields) != self._width:
            problem = FieldError(
                "row", f"has {counted(len(fields), 'field')}; the header names {self._width}"
            )
            return ImportRow(line, problems=(problem,))
        columns = self._columns
        assert columns is not None
        name, email, department, cgpa = (fields[index] for index in columns)
        if not_utf8:
            problems = _not_utf8(dict(zip(FIELDS, (name, email, department, cgpa), strict=True)))
            if problems:
                return ImportRow(line, problems=problems)
        return ImportRow(line, name, email, department, cgpa)


class NdjsonReader(RowReader):
    def _lines(self, lines: list[str], *, not_utf8: bool) -> list[ImportRow]:
        rows: list[ImportRow] = []
        for text in lines:
            self._line += 1
            if len(text) > MAX_LINE_CHARACTERS:
                raise UnreadableFile(self._line, f"a line is longer than {MAX_LINE_CHARACTERS} characters")
            text = text.strip(" \t\r")
            if text:
                rows.append(self._row(self._line, text, not_utf8=not_utf8))
        return rows

    @staticmethod
    def _row(line: int, text: str, *, not_utf8: bool) -> ImportRow:
        if not_utf8 and _NOT_UTF8.search(text):
            return ImportRow(line, problems=(FieldError("row", "is not valid UTF-8"),))
        try:
            document = json.loads(
                text, parse_float=Decimal, parse_constant=refuse_constant, object_pairs_hook=_members
            )
        except _DuplicateMember as exc:
            return ImportRow(line, problems=(FieldError(shown(str(exc)), "is given twice"),))
        except NotAJsonNumber as exc:
            return ImportRow(line, problems=(FieldError("row", f"is not valid JSON: {exc}"),))
        except (ValueError, RecursionError, ArithmeticError) as exc:
            reason = (
                decoder_complaint(exc.msg, exc.pos)
                if isinstance(exc, json.JSONDecodeError)
                else "cannot be read"
            )
            return ImportRow(line, problems=(FieldError("row", f"is not valid JSON: {reason}"),))
        if not isinstance(document, dict):
            return ImportRow(line, problems=(FieldError("row", "is not a JSON object"),))
        unknown = sorted(set(document) - set(FIELDS) - set(ASSIGNED))
        if unknown:
            problems = tuple(FieldError(shown(name), "is not a known field") for name in unknown)
            return ImportRow(line, problems=problems)
        get = document.get
        return ImportRow(line, get("name"), get("email"), get("department"), get("cgpa"))


def _header_unreadable(reason: str) -> str:
    if "new-line character" in reason:
        return "the header ends in a bare carriage return; save the file with LF or CRLF line ends"
    return f"the header is not valid CSV ({reason})"


def _csv_text(rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _cell(text: str) -> str:
    """Text as a CSV cell that no spreadsheet runs: one stored before the domain refused a formula's
    start (FORMULA_STARTS) is written after an apostrophe, which spreadsheets take for "text"."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv_values(student: Student) -> tuple[Any, ...]:
    return (
        student.id,
        _cell(student.name),
        _cell(student.email),
        student.department,
        student.cgpa,
        student.version,
        student.created_at.isoformat(),
        student.updated_at.isoformat(),
    )


def _document(student: Student) -> dict[str, Any]:
    return {
        "id": str(student.id),
        "name": student.name,
        "email": student.email,
        "department": student.department,
        # Two decimals at most, within 0-10: a JSON number holds them exactly (read back as Decimal).
        "cgpa": float(student.cgpa),
        "version": student.version,
        "created_at": student.created_at,
        "updated_at": student.updated_at,
    }


class Writer:
    """An export's bytes: the header (CSV), then one chunk per page of students."""

    def __init__(self, format: str) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; use {' or '.join(FORMATS)}")
        self.format = format
        self.media_type = MEDIA_TYPES[format]

    def header(self) -> bytes:
        return _csv_text([EXPORT_COLUMNS]).encode() if self.format == CSV else b""

    def page(self, students: Iterable[Student]) -> bytes:
        if self.format == CSV:
            return _csv_text(_csv_values(student) for student in students).encode()
        return b"".join(orjson.dumps(_document(student)) + b"\n" for student in students)
