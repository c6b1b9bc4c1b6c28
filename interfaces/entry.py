"""The ``students`` console script. Loading the command (interfaces/cli.py and what it imports)
takes a moment; a Ctrl+C or SIGTERM in it ends the process with one line, not a traceback nor
silence. Once loaded, the command answers signals itself (cli._Stop, the server's own)."""

from __future__ import annotations

import signal
import sys
from types import FrameType

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _before_it_began(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    sys.stderr.write(f"students: stopped by {name} before it began; nothing was done\n")
    raise SystemExit(128 + signum)


def main() -> int:
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig, handler in previous.items():
        if handler != signal.SIG_IGN:  # one the parent ignored stays ignored
            signal.signal(sig, _before_it_began)
    from interfaces.cli import main as command

    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return command()
