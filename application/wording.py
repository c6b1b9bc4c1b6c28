"""How counts and the JSON decoder's complaints are put in words, wherever a person reads them."""

from __future__ import annotations


def counted(number: int, noun: str) -> str:
    """``1 row``, ``10,000 rows``: a count and its noun, in the singular for one."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def decoder_complaint(message: str, offset: int) -> str:
    """The JSON decoder's message with where it stopped, counted from 1 as a reader counts: its
    "Invalid control character at" loses the "at" it would have been followed by. Offset 0 (the
    start, and where a reader's own refusals point) is left unsaid."""
    message = message.removesuffix(" at")
    return f"{message} (at character {offset + 1})" if offset > 0 else message
