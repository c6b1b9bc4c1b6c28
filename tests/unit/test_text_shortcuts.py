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


def test_text_beyond_ascii_takes_the_unicode_rules() -> None:
    assert text.trim("\u3000Zoë\u00a0") == "Zoë"
    assert text.unprintable_reason("Zoë\u200b") is not None
    assert text.looks_blank("\u3164")
    assert not text.has_letter("\u0301")
    assert text.starts_with_mark("\u0301e")
    assert text.nfc("e\u0301") == "é"
    assert text.fold("STRAẞE") == "strasse"
