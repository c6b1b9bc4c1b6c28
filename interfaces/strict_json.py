"""JSON as RFC 8259 has it, where Python's ``json`` module is looser: it reads ``NaN``,
``Infinity`` and ``-Infinity`` as numbers, which no other JSON reader takes. Both readers of
JSON from outside (request bodies, NDJSON files) pass :func:`refuse_constant` as ``parse_constant``."""

from __future__ import annotations

from typing import NoReturn


class NotAJsonNumber(ValueError):
    def __init__(self, constant: str) -> None:
        super().__init__(f"{constant} is not a JSON number")


def refuse_constant(constant: str) -> NoReturn:
    raise NotAJsonNumber(constant)
