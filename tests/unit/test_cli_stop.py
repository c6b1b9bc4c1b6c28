"""How a command of the CLI takes SIGTERM and SIGINT while it runs (interfaces/cli.py, _Stop)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from application.use_cases.import_students import (
    ImportConflict,
    ImportRejected,
    ImportStudentsCommand,
    ImportSummary,
    RowError,
)
from application.wording import counted, decoder_complaint
from infrastructure.settings import Settings
from interfaces import cli, entry
from interfaces.bulk_commands import run_import
from interfaces.cli import _Stop


@pytest.fixture
async def handlers() -> AsyncIterator[None]:
    yield
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


async def _signalled(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    for _ in range(3):  # the loop reads its wakeup byte, then runs the handler
        await asyncio.sleep(0)


def _listening(stop: _Stop) -> None:
    # Else the signals the tests send would stop the test run itself.
    assert stop._listening == [signal.SIGTERM, signal.SIGINT]


async def test_a_signal_cancels_the_work(handlers: None) -> None:
    stop = _Stop()

    async def work() -> None:
        stop.listen()
        _listening(stop)
        await _signalled(signal.SIGINT)
        await asyncio.sleep(5)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(work())
    assert stop.stopped_by() is signal.SIGINT


async def test_while_held_only_a_second_signal_cancels_and_the_first_names_the_stop(handlers: None) -> None:
    stop = _Stop()
    waited = asyncio.Event()

    async def work() -> None:
        stop.listen()
        _listening(stop)
        stop.hold()
        await _signalled(signal.SIGTERM)
        waited.set()  # still running
        await _signalled(signal.SIGINT)
        await asyncio.sleep(5)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(work())
    assert waited.is_set()
    assert stop.stopped_by() is signal.SIGTERM


async def test_a_signal_once_the_work_is_done_cancels_nothing(handlers: None) -> None:
    stop = _Stop()

    async def closing() -> str:
        stop.listen()
        _listening(stop)
        stop.finished = True
        await _signalled(signal.SIGTERM)
        return "closed"

    assert await asyncio.create_task(closing()) == "closed"


class _CommitsWhileSignalled:
    """An import use-case that gets SIGTERM as it commits, and then commits."""

    async def execute(self, command: ImportStudentsCommand) -> ImportSummary:
        rows = [row async for row in command.rows]
        assert command.on_phase is not None
        command.on_phase("committing")
        await _signalled(signal.SIGTERM)
        return ImportSummary(rows=len(rows), created=len(rows), updated=0, unchanged=0)


async def test_an_import_signalled_as_it_commits_is_let_finish(handlers: None, tmp_path: Path) -> None:
    source = tmp_path / "intake.csv"
    source.write_text("name,email,department,cgpa\nAda Lovelace,ada@example.org,CS,9.5\n")
    stop = _Stop()
    out, err = io.StringIO(), io.StringIO()

    async def work() -> int:
        stop.listen()
        _listening(stop)
        return await run_import(
            _CommitsWhileSignalled,
            str(source),
            format=None,
            on_conflict="error",
            dry_run=False,
            out=out,
            err=err,
            stopping=stop,
        )

    assert await asyncio.create_task(work()) == 0
    assert out.getvalue().startswith(f"imported 1 row from {source}: 1 created")
    assert stop.stopped_by() is signal.SIGTERM


async def test_once_done_a_signal_is_ignored_to_the_exit(handlers: None) -> None:
    # Found by attack: the loop's closing gave SIGTERM its default back, and a signal in the
    # last moments killed an import that had committed and said so (status 143).
    stop = _Stop()
    stop.listen()
    _listening(stop)
    stop.done()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    os.kill(os.getpid(), signal.SIGTERM)  # nothing happens
    await asyncio.sleep(0.05)


async def test_a_signal_the_command_was_started_with_ignored_stays_ignored(handlers: None) -> None:
    # Found by attack: a background job of a script, SIGINT ignored, was stopped by it all the same.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Stop().listen()
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_a_signal_while_the_command_loads_is_one_line_and_the_shells_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        entry._before_it_began(signal.SIGINT, None)
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "students: stopped by SIGINT before it began; nothing was done\n"


def test_the_console_script_holds_signals_until_the_command_takes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[object] = []

    def command() -> int:
        seen.append(signal.getsignal(signal.SIGTERM))
        return 0

    monkeypatch.setattr(cli, "main", command)
    try:
        assert entry.main() == 0
        # Returned: to the exit, a signal would only replace the status.
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert seen == [entry._before_it_began]
    scripts = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["students"] == "interfaces.entry:main"


@pytest.mark.parametrize(
    ("cause", "revising", "advice"),
    [
        (ImportConflict.TAKEN, False, "run it again to see which"),
        (ImportConflict.TAKEN, True, "run it again"),  # a taken email is then a revision
        (ImportConflict.CROSSED, False, "run it again"),
    ],
)
def test_an_import_conflict_advises_what_running_it_again_does(
    cause: str, revising: bool, advice: str
) -> None:
    assert str(ImportConflict(cause, revising=revising)) == f"{cause}; nothing was imported; {advice}"


def test_counts_are_written_in_the_singular_for_one() -> None:
    # Found by a new user: "imported 1 rows", "1 errors in 2 rows".
    assert [counted(n, "row") for n in (0, 1, 2, 10_000)] == ["0 rows", "1 row", "2 rows", "10,000 rows"]
    rejected = ImportRejected([RowError(2, "cgpa", "must be between 0.00 and 10.00")], total=1, rows=2)
    assert str(rejected) == "1 error in 2 rows; nothing was imported"


@pytest.mark.parametrize(
    ("message", "offset", "words"),
    [
        ("Expecting value", 0, "Expecting value"),
        ("Expecting value", 9, "Expecting value (at character 10)"),
        ("Invalid control character at", 9, "Invalid control character (at character 10)"),
    ],
)
def test_the_decoders_complaints_read_as_a_person_counts(message: str, offset: int, words: str) -> None:
    # Found by attack: "Invalid control character at (at character 10)", and offsets from 0.
    assert decoder_complaint(message, offset) == words


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("::1", "http://[::1]:8123/"),
        ("::", "http://127.0.0.1:8123/"),
        ("localhost", "http://localhost:8123/"),
    ],
)
def test_the_development_banners_curl_line_is_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str, shown: str
) -> None:
    # Found by attack: `serve --host ::1` printed http://::1:8123/students.
    settings = Settings(environment="development", auth_secret=None, dev_secret_file=tmp_path / ".dev-secret")
    cli._development_banner(settings, host, 8123)
    assert f" {shown}students\n" in capsys.readouterr().out
