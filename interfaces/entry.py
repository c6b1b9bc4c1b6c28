"""The ``students`` console script. Loading the command (interfaces/cli.py, and what each command
imports as it starts: the container, SQLAlchemy, Alembic) takes a moment; a SIGTERM or Ctrl+C in
it ends the process with one line, not a traceback nor silence. The handler stays until the
command takes the signals itself (cli._Stop for the commands that work on the database, the
server's own for ``serve``), and once the command has returned both are ignored to the exit, so
that the status is the command's; a signal the parent ignored stays ignored.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _before_it_began(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    sys.stderr.write(f"students: stopped by {name} before it began; nothing was done\n")
    raise SystemExit(128 + signum)


def main() -> int:
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, _before_it_began)
    from interfaces.cli import main as command

    status = command()
    # Said and done: a signal while the interpreter shuts down would only replace the status.
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, signal.SIG_IGN)
    return status
