"""`students import` and `students export`, as a user runs them: exit statuses and what they print."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.support.databases import throw_away_database
from tests.support.server import STUDENTS, server_environment, students

GOOD = (
    "name,email,department,cgpa\nAda Lovelace,ada@example.org,CS,9.5\nGrace Hopper,grace@example.org,MATH,8\n"
)


def _environment(tmp_path: Path) -> dict[str, str]:
    env = server_environment(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'students.db'}", LOG_LEVEL="WARNING"
    )
    assert students("migrate", env=env).returncode == 0
    return env


def test_an_import_then_an_export_round_trips_with_a_summary_and_status_0(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    source = tmp_path / "intake.csv"
    source.write_text(GOOD)
    imported = students("import", str(source), env=env)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(f"imported 2 rows from {source}: 2 created, 0 updated, 0 unchanged")
    # Not a terminal: progress is plain lines, never a bar's escape codes.
    assert "\x1b[" not in imported.stderr

    target = tmp_path / "roll.ndjson"
    exported = students("export", str(target), env=env)
    assert exported.returncode == 0, exported.stderr
    assert "exported 2 students" in exported.stderr
    assert len(target.read_text().splitlines()) == 2
    again = students("import", str(target), "--on-conflict", "update", "--dry-run", env=env)
    assert again.returncode == 0
    assert "would import 2 rows (0 created, 0 updated, 2 unchanged); nothing was written" in again.stdout
    # Found by attack: a dry run said it was storing the rows it never writes.
    steps = [line.split()[0] for line in again.stderr.splitlines() if line.endswith(" rows")]
    assert steps == ["checking", "counting"], again.stderr


def test_a_bad_file_names_each_bad_line_and_exits_1_having_imported_nothing(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    source = tmp_path / "intake.csv"
    source.write_text(GOOD + "Bad,not-an-email,CS,7\nAda Again,ada@example.org,CS,7\n")
    result = students("import", str(source), env=env)
    assert result.returncode == 1
    assert f"{source}:4: email: must be a valid email address" in result.stderr
    assert f"{source}:5: email: is also on line 2" in result.stderr
    assert "Traceback" not in result.stderr
    exported = students("export", env=env)
    assert exported.stdout.splitlines()[1:] == []


def test_a_file_that_is_not_there_is_one_line_and_status_2(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    result = students("import", str(tmp_path / "missing.csv"), env=env)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        f"cannot read {tmp_path / 'missing.csv'}: No such file or directory"
    )


def test_an_export_never_writes_through_a_file_or_link_that_is_there(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    precious = tmp_path / "precious.txt"
    precious.write_text("precious")
    (tmp_path / "roll.csv.partial").symlink_to(precious)
    assert students("export", str(tmp_path / "roll.csv"), env=env).returncode == 0
    assert precious.read_text() == "precious"
    assert (tmp_path / "roll.csv").read_text().startswith("id,name,email")
    into_directory = students("export", str(tmp_path), env=env)
    assert into_directory.returncode == 2
    assert "it is a directory" in into_directory.stderr


def test_an_export_from_a_database_that_is_not_there_writes_nothing(tmp_path: Path) -> None:
    env = server_environment(
        DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:9/none", LOG_LEVEL="WARNING"
    )
    result = students("export", env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "cannot export from" in result.stderr


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, f"the command ended before {what}"
        assert time.monotonic() < deadline, f"no sign of {what} within 60 s"
        time.sleep(0.01)


def _intake(tmp_path: Path, rows: int) -> Path:
    source = tmp_path / "intake.csv"
    with source.open("w") as file:
        file.write("name,email,department,cgpa\n")
        file.writelines(f"Student {i},s{i}@example.org,CS,{i % 10}.50\n" for i in range(rows))
    return source


def test_sigterm_stops_an_import_with_one_line_and_nothing_imported(tmp_path: Path) -> None:
    # Found by attack: the process died at once, status 143 and not a word, as an orchestrator
    # stopping a job sees it. Now it stops reading, rolls back, and says so.
    env = _environment(tmp_path)
    source = _intake(tmp_path, 150_000)
    wal = tmp_path / "students.db-wal"
    importing = subprocess.Popen(
        [STUDENTS, "import", str(source)], env=env, stderr=subprocess.PIPE, text=True
    )
    # Batches are stored as they come: the first shows in SQLite's write-ahead log.
    _wait_for(lambda: wal.exists() and wal.stat().st_size > 0, importing, "a stored batch")
    importing.send_signal(signal.SIGTERM)
    _, err = importing.communicate(timeout=60)
    assert importing.returncode == 128 + signal.SIGTERM
    assert re.fullmatch(
        r"students: stopped by SIGTERM at row [\d,]+; nothing was imported", err.strip().splitlines()[-1]
    )
    assert "Traceback" not in err
    assert students("export", env=env).stdout.splitlines()[1:] == []


def test_sigterm_stops_an_import_from_a_pipe_gone_quiet(tmp_path: Path) -> None:
    # Found by attack: the read of standard input held the event loop, so no signal, not even a
    # second, stopped the import until more data came.
    env = _environment(tmp_path)
    wal = tmp_path / "students.db-wal"
    importing = subprocess.Popen(
        [STUDENTS, "import", "--format", "csv", "-"],
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert importing.stdin is not None
    importing.stdin.write(_intake(tmp_path, 20_000).read_text())
    importing.stdin.flush()  # and then nothing more, the pipe left open
    _wait_for(lambda: wal.exists() and wal.stat().st_size > 0, importing, "a stored batch")
    time.sleep(1)  # the rest of the rows read by then, most likely: the read waits for more
    importing.send_signal(signal.SIGTERM)
    try:
        importing.wait(timeout=30)
    finally:
        importing.stdin.close()
    assert importing.returncode == 128 + signal.SIGTERM
    err = importing.stderr.read() if importing.stderr else ""
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"students: stopped by SIGTERM at row [\d,]+; nothing was imported", last), last
    assert students("export", env=env).stdout.splitlines()[1:] == []


def test_sigterm_stops_an_import_while_it_stores_its_revisions(tmp_path: Path) -> None:
    # Found by attack: after the last row was read, a first signal waited for the whole storing
    # phase (two minutes for a million revisions). Until its COMMIT, an import stops at once.
    env = _environment(tmp_path)
    source = _intake(tmp_path, 100_000)
    assert students("import", str(source), env=env).returncode == 0
    revised = tmp_path / "revised.csv"
    revised.write_text(source.read_text().replace(".50\n", ".25\n"))
    importing = subprocess.Popen(
        [STUDENTS, "import", "--on-conflict", "update", str(revised)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert importing.stderr is not None
    lines = iter(importing.stderr.readline, "")
    assert any(line.startswith("storing") for line in lines), "the import never said it was storing"
    importing.send_signal(signal.SIGTERM)
    importing.wait(timeout=60)
    rest = importing.stderr.read()
    assert importing.returncode == 128 + signal.SIGTERM, rest
    assert rest.strip() == "students: stopped by SIGTERM while storing 100,000 rows; nothing was imported"
    stored = list(csv.DictReader(io.StringIO(students("export", env=env).stdout)))
    assert len(stored) == 100_000
    assert {(row["version"], row["cgpa"][-2:]) for row in stored} == {("1", "50")}


def test_sigterm_stops_an_export_with_one_line_and_no_file_left(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    assert students("import", str(_intake(tmp_path, 150_000)), env=env).returncode == 0
    target = tmp_path / "roll.csv"
    exporting = subprocess.Popen(
        [STUDENTS, "export", str(target)], env=env, stderr=subprocess.PIPE, text=True
    )
    _wait_for(
        lambda: any(p.stat().st_size > 0 for p in tmp_path.glob(".roll.csv.*.partial")),
        exporting,
        "a page written",
    )
    exporting.send_signal(signal.SIGTERM)
    _, err = exporting.communicate(timeout=60)
    assert exporting.returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1] == "students: stopped by SIGTERM; no file was written"
    assert sorted(p.name for p in tmp_path.iterdir() if "roll" in p.name) == []


def test_an_export_to_a_reader_that_goes_away_ends_without_a_word(tmp_path: Path) -> None:
    # Found by attack: `students export - | head` said the database could not be reached.
    env = _environment(tmp_path)
    assert students("import", str(_intake(tmp_path, 3_000)), env=env).returncode == 0
    exporting = subprocess.Popen(
        [STUDENTS, "export", "-"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert exporting.stdout is not None
    assert exporting.stderr is not None
    assert exporting.stdout.readline().startswith(b"id,name,email")
    exporting.stdout.close()  # as head does once it has its lines
    err = exporting.stderr.read().decode()
    assert exporting.wait(timeout=60) == 128 + signal.SIGPIPE
    assert err == ""


def test_an_exported_file_has_the_permissions_of_any_file_the_user_makes(tmp_path: Path) -> None:
    # Found by attack: the temporary file's 0600 stayed with the export.
    env = _environment(tmp_path)
    target = tmp_path / "roll.csv"
    assert students("export", str(target), env=env).returncode == 0
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_sigterm_stops_an_import_from_a_fifo_no_one_has_opened(tmp_path: Path) -> None:
    # Found by attack: the open waited for a writer in the event loop, and no signal stopped it.
    env = _environment(tmp_path)
    fifo = tmp_path / "intake.csv"
    os.mkfifo(fifo)
    importing = subprocess.Popen([STUDENTS, "import", str(fifo)], env=env, stderr=subprocess.PIPE, text=True)
    time.sleep(2)  # loaded, and waiting for a writer
    importing.send_signal(signal.SIGTERM)
    _, err = importing.communicate(timeout=30)
    assert importing.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] in (
        "students: stopped by SIGTERM at row 0; nothing was imported",
        "students: stopped by SIGTERM before it began; nothing was done",  # on a slow machine
    )


def test_an_export_never_puts_a_file_in_place_of_a_fifo_or_a_device(tmp_path: Path) -> None:
    # Found by attack: as root, `students export /dev/stdout` renamed its file over /dev/stdout.
    env = _environment(tmp_path)
    fifo = tmp_path / "roll.csv"
    os.mkfifo(fifo)
    result = students("export", str(fifo), env=env)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"students: cannot write {fifo}: it is not a regular file; for a pipe, export to -"
    )
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_an_export_never_puts_a_file_in_place_of_a_link(tmp_path: Path) -> None:
    # Found by a new user: a link to a regular file passed (os.stat follows it), and the rename
    # at the end replaced the link itself; as root, /dev/stdout redirected to a file was replaced.
    env = _environment(tmp_path)
    target = tmp_path / "roll.csv"
    target.write_text("kept")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    result = students("export", str(link), env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"students: cannot write {link}: it is a symbolic link; name the file itself, or export to -"
    )
    assert link.is_symlink()
    assert target.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


@pytest.mark.parametrize(
    ("command", "line"),
    [
        ("export - >&-", "students: cannot write standard output: it is closed"),
        ("import - <&-", "students: cannot read standard input: it is closed"),
    ],
)
def test_a_closed_standard_stream_is_one_line(tmp_path: Path, command: str, line: str) -> None:
    env = _environment(tmp_path)
    result = subprocess.run(
        ["sh", "-c", f"'{STUDENTS}' {command}"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == line


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # Found by review: the new file took the umask's 0644 over a roll someone had set to 0600.
        (0o600, 0o600),
        # Found by attack: the new file, the exporting user's, took over another's setuid bit.
        (0o6755, 0o755),
    ],
)
def test_an_export_over_a_file_keeps_its_mode_but_not_set_id_bits(
    tmp_path: Path, before: int, after: int
) -> None:
    env = _environment(tmp_path)
    target = tmp_path / "roll.csv"
    target.write_text("old")
    target.chmod(before)
    assert students("export", str(target), env=env).returncode == 0
    assert target.stat().st_mode & 0o7777 == after
    assert target.read_text().startswith("id,name,email")


def test_an_export_to_a_path_through_a_file_blames_the_path(tmp_path: Path) -> None:
    # Found by review: "cannot export from <database>: NotADirectoryError".
    env = _environment(tmp_path)
    (tmp_path / "plain").write_text("")
    result = students("export", str(tmp_path / "plain" / "roll.csv"), env=env)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"students: cannot write {tmp_path / 'plain' / 'roll.csv'}: Not a directory"
    )


def test_an_export_to_a_name_near_the_limit_works(tmp_path: Path) -> None:
    # Found by attack: the temporary file's name, some 18 characters longer, was too long.
    env = _environment(tmp_path)
    target = tmp_path / ("b" * 246 + ".csv")
    result = students("export", str(target), env=env)
    assert result.returncode == 0, result.stderr
    assert target.read_text().startswith("id,name,email")


def test_an_export_to_an_empty_name_is_a_bad_argument(tmp_path: Path) -> None:
    # Found in the last read of the change: status 1, "cannot write : No such file or directory".
    env = _environment(tmp_path)
    result = students("export", "", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "students: cannot write a file with no name; give one, or - for standard output"
    )


def test_an_exclusive_import_on_sqlite_imports_as_any_other(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    source = tmp_path / "intake.csv"
    source.write_text(GOOD)
    result = students("import", "--exclusive", str(source), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"imported 2 rows from {source}: 2 created")


async def test_an_exclusive_import_on_mariadb_is_refused_in_one_line_with_status_2(tmp_path: Path) -> None:
    async with throw_away_database("mariadb") as database:
        env = server_environment(DATABASE_URL=database.url, LOG_LEVEL="WARNING")
        assert (await asyncio.to_thread(students, "migrate", env=env)).returncode == 0
        source = tmp_path / "intake.csv"
        source.write_text(GOOD)
        result = await asyncio.to_thread(students, "import", "--exclusive", str(source), env=env)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines()[-1] == (
            "students: an exclusive import needs PostgreSQL or SQLite; MariaDB/MySQL commits at every "
            "change of an index, so a failed import could not be undone whole; import without --exclusive"
        )
        assert "Traceback" not in result.stderr
        plain = await asyncio.to_thread(students, "import", str(source), env=env)
        assert plain.returncode == 0, plain.stderr


async def _exclusive_import_of_good_rows_left_open(env: dict[str, str]) -> asyncio.subprocess.Process:
    """``students import --exclusive -`` with GOOD written to it and its standard input still open."""
    importing = await asyncio.create_subprocess_exec(
        STUDENTS,
        "import",
        "--exclusive",
        "-",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert importing.stdin is not None
    importing.stdin.write(GOOD.encode())
    await importing.stdin.drain()
    return importing


async def _until_the_table_is_held(connection: AsyncConnection, then: str) -> None:
    """Wait for the import to hold students ACCESS EXCLUSIVE; ``then``: what to select of the
    lock's holder (its pid), once it does."""
    held = sa.text(
        f"SELECT {then} FROM pg_locks WHERE granted "
        "AND relation = CAST('students' AS regclass) AND mode = 'AccessExclusiveLock'"
    )
    for _ in range(100):
        if [row for row in (await connection.execute(held)).all() if row[0]]:
            return
        await connection.rollback()
        await asyncio.sleep(0.1)
    pytest.fail("the import never took the table")


@pytest.mark.slow
async def test_an_exclusive_import_on_postgresql_holds_the_table_and_gives_it_back_with_its_indexes() -> None:
    async with throw_away_database("postgres") as database:
        env = server_environment(DATABASE_URL=database.url, LOG_LEVEL="WARNING")
        assert (await asyncio.to_thread(students, "migrate", env=env)).returncode == 0
        engine = create_async_engine(database.url)
        try:
            indexes = sa.text("SELECT indexdef FROM pg_indexes WHERE tablename = 'students' ORDER BY 1")
            async with engine.connect() as connection:
                before = (await connection.execute(indexes)).scalars().all()
            importing = await _exclusive_import_of_good_rows_left_open(env)
            assert importing.stdin is not None
            # The file is still open: the import holds the table, and a reader waits for it.
            async with engine.connect() as connection:
                await _until_the_table_is_held(connection, "count(*)")
                await connection.rollback()
                await connection.execute(sa.text("SET lock_timeout = '300ms'"))
                with pytest.raises(DBAPIError, match="lock timeout"):
                    await connection.execute(sa.text("SELECT count(*) FROM students"))
            importing.stdin.close()
            _, err = await asyncio.wait_for(importing.communicate(), timeout=60)
            assert importing.returncode == 0, err
            async with engine.connect() as connection:
                assert (await connection.execute(indexes)).scalars().all() == before
                assert (await connection.execute(sa.text("SELECT count(*) FROM students"))).scalar() == 2
        finally:
            await engine.dispose()


@pytest.mark.slow
async def test_an_exclusive_import_whose_connection_is_cut_leaves_the_table_and_its_indexes() -> None:
    async with throw_away_database("postgres") as database:
        env = server_environment(DATABASE_URL=database.url, LOG_LEVEL="WARNING")
        assert (await asyncio.to_thread(students, "migrate", env=env)).returncode == 0
        engine = create_async_engine(database.url, isolation_level="AUTOCOMMIT")
        try:
            indexes = sa.text("SELECT indexdef FROM pg_indexes WHERE tablename = 'students' ORDER BY 1")
            async with engine.connect() as connection:
                before = (await connection.execute(indexes)).scalars().all()
            importing = await _exclusive_import_of_good_rows_left_open(env)
            assert importing.stdin is not None
            # The database drops the import's connection while it holds the table (its own
            # database's backend only: the shared server goes on).
            async with engine.connect() as connection:
                await _until_the_table_is_held(connection, "pg_terminate_backend(pid)")
            importing.stdin.write(b"Alan Turing,alan@example.org,CS,9\n")
            importing.stdin.close()
            _, err = await asyncio.wait_for(importing.communicate(), timeout=60)
            assert importing.returncode == 1, err
            assert "Traceback" not in err.decode()
            last = err.decode().strip().splitlines()[-1]
            assert last.startswith("students: cannot import into "), err
            assert "the connection to the database was lost; retry shortly" in last
            async with engine.connect() as connection:
                assert (await connection.execute(indexes)).scalars().all() == before
                assert (await connection.execute(sa.text("SELECT count(*) FROM students"))).scalar() == 0
        finally:
            await engine.dispose()


def test_an_export_takes_a_long_name_of_letters_beyond_ascii(tmp_path: Path) -> None:
    # Found by attack: the temporary name was cut to 200 characters, not bytes, so a legal name
    # of 120 "é" (244 bytes) was "File name too long".
    env = _environment(tmp_path)
    name = "é" * 120 + ".csv"
    result = students("export", str(tmp_path / name), env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).read_text().startswith("id,name,email")
