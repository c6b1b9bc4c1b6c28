"""The ASCII shortcuts of domain/text.py give what its Unicode rules give.

Each rule looks at one character at a time, so checking every one of the 128 ASCII characters,
alone and between others, covers every ASCII text.
"""

from __future__ import annotations

import unicodedata

import pytest

from domain import text

ASCII = [chr(code) for code in range(128)]


@pytest.mark.parametrize("ch", ASCII, ids=[f"U+{ord(c):04X}" for c in ASCII])
def test_each_ascii_character_is_judged_as_its_unicode_category_says(ch: str) -> None:
    category = unicodedata.category(ch)
    assert (text.trim(f"{ch}a{ch}") == "a") == (category == "Zs")
    assert (text.unprintable_reason(f"a{ch}a") is not None) == (category in text._UNPRINTABLE)
    assert text.looks_blank(ch) == (category[0] not in text._VISIBLE)
    assert text.has_letter(ch) == (category[0] == "L")
    assert text.starts_with_mark(ch) == (category[0] == "M")
    assert text.nfc(ch) == unicodedata.normalize("NFC", ch)
    assert text.fold(ch) == ch.casefold()


@pytest.mark.parametrize("ch", ASCII, ids=[f"U+{ord(c):04X}" for c in ASCII])
def test_a_plain_name_is_one_every_rule_of_a_name_passes(ch: str) -> None:
    for value in (ch, f"a{ch}", f"{ch}a", f"a{ch}a", f"{ch}{ch}"):
        every_rule = (
            text.unprintable_reason(value) is None
            and not text.looks_blank(value)
            and text.has_letter(value)
            and not text.starts_with_mark(value)
        )
        assert text.plainly_a_name(value) == every_rule, value
    assert not text.plainly_a_name("Zoë")  # not ASCII: the rules are asked one by one


def test_text_beyond_ascii_takes_the_unicode_rules() -> None:
    assert text.trim("\u3000Zoë\u00a0") == "Zoë"
    assert text.unprintable_reason("Zoë\u200b") is not None
    assert text.looks_blank("\u3164")
    assert not text.has_letter("\u0301")
    assert text.starts_with_mark("\u0301e")
    assert text.nfc("e\u0301") == "é"
    assert text.fold("STRAẞE") == "strasse"


def _reference(value: str) -> tuple[bool, bool, bool]:
    """Printable, blank, has a letter: the rules of domain/text.py spelt out, character by character."""
    printable = all(
        unicodedata.category(ch) not in text._UNPRINTABLE or text._joins(value, index)
        for index, ch in enumerate(value)
    )
    blank = not any(
        unicodedata.category(ch)[0] in text._VISIBLE and ch not in text._BLANK_LOOKING for ch in value
    )
    letter = any(unicodedata.category(ch)[0] == "L" and ch not in text._BLANK_LOOKING for ch in value)
    return printable, blank, letter


def _judged(value: str) -> tuple[bool, bool, bool]:
    return text.unprintable_reason(value) is None, text.looks_blank(value), text.has_letter(value)


# Every character of the Basic Multilingual Plane past ASCII, alone and beside the characters the
# sets keep first: the first time a text is judged by the loop, the second by the kept characters.
_BEYOND_ASCII = [chr(code) for code in range(0x80, 0x10000) if not 0xD800 <= code <= 0xDFFF]


@pytest.mark.parametrize("start", range(0, len(_BEYOND_ASCII), 4096))
def test_the_kept_characters_judge_text_as_the_rules_do(start: int) -> None:
    for ch in _BEYOND_ASCII[start : start + 4096]:
        for value in (ch, f"ø{ch}", f"{ch}\u200d{ch}", f"\u3164{ch}", f"Zoë {ch}\u200b"):
            expected = _reference(value)
            assert _judged(value) == expected, value
            assert _judged(value) == expected, value  # again: now from what was kept


def test_a_joiner_is_never_kept_as_printable() -> None:
    assert text.unprintable_reason("a\u200db") is None  # between two others, it passes...
    assert text.unprintable_reason("é\u200d") is not None  # ...and is never kept as passing
    assert "\u200d" not in text._printable


def test_a_plain_name_is_judged_by_two_scans_not_by_one_pattern_that_backtracks() -> None:
    assert text._ASCII_PRINTABLE.pattern == "[ -~]*"  # no letter inside: nothing to try again
    assert not text.plainly_a_name("a" * 64_000 + "\x01")
    assert text.plainly_a_name("a" * 64_000)
