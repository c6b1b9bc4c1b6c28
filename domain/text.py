"""Rules for text people write: one Unicode spelling per name, what is printable, caseless matching.

Every rule here applies to names and to searches for them alike, so that what is stored and what
is looked for are compared in the same form:

- Text is trimmed of spaces only (Unicode's space separators): Python's ``strip()`` would also
  take line breaks, U+2028/U+2029 and some control characters off the ends, which would make
  "Ada\n" a name while "A\nda" is refused. Here both are refused.
- Text is NFC-normalised first: "é" typed as one code point or as "e" plus a combining accent is
  the same name, stored once, found by either spelling.
- Printable means no control, format, surrogate, private-use or unassigned code points, and no
  line or paragraph separators (U+2028, U+2029, which break lines like "\\n" does). The one
  exception is a zero-width joiner or non-joiner *between* two other characters: emoji sequences
  ("👩‍💻") and Persian and Indic scripts need them there.
- Text is blank when nothing in it would show on screen: spaces, combining marks with nothing to
  sit on, Hangul fillers, braille blanks. A name must also hold at least one letter.
"""

from __future__ import annotations

import re
import unicodedata

# Control, format, surrogate, private use, unassigned; line and paragraph separators.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_CONTROLS = "must not contain control or invisible formatting characters"
_JOINERS = frozenset({"\u200c", "\u200d"})  # zero-width non-joiner, zero-width joiner
# Code points of visible categories that render as nothing: the Hangul fillers, the braille blank.
_BLANK_LOOKING = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"})
# Letters, numbers, punctuation, symbols: what can be seen (marks only decorate one of these).
_VISIBLE = frozenset("LNPS")

# ASCII text (``str.isascii()`` is a flag CPython keeps, free to ask) takes these shortcuts, which
# give what the Unicode rules give for it: its only space separator is " ", its only unprintables
# the C0 controls and DEL, its visible characters "!" to "~", its letters A-Z and a-z, no marks;
# it is already NFC, and it case-folds as lower(). A test holds each shortcut to its rule.
_ASCII_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_VISIBLE = re.compile(r"[!-~]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
# All of a name's rules on ASCII text at once: printable characters only, one of them a letter
# (so not blank); ASCII has no marks (see plainly_a_name). Two scans, each linear: one pattern
# with the letter inside ("[ -~]*[A-Za-z][ -~]*") tries every letter again when the text fails
# near its end, quadratic in its length.
_ASCII_PRINTABLE = re.compile(r"[ -~]*")

# Beyond ASCII, the rules judge each character by its category, one at a time, in Python: some
# 70 ns a character. A name's characters are mostly ones other names had, so each rule keeps
# the characters it has found to pass it, and a text made only of those (a set operation, in C)
# passes without the loop. A joiner is never kept (it passes only between two others). Each set
# keeps at most this many characters: all the letters of a few scripts, and a bound on memory.
_KEPT_CHARACTERS = 8192
_printable: set[str] = set()
_visible_kept: set[str] = set()
_letters: set[str] = set()


def _keep(kept: set[str], characters: str) -> None:
    if len(kept) < _KEPT_CHARACTERS:
        kept.update(characters)


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


# No code point decomposes canonically into more than this many (U+1F82 and its kin: a letter
# and three marks), so NFC makes a text at most this many times shorter, and never changes its
# spaces: a text whose trimmed length is more than this many times a limit is longer than the
# limit in NFC too. Worth knowing before normalising: NFC takes time in the square of a run of
# combining marks (CPython puts them in order one by one). A test holds the bound to unicodedata.
NFC_SHORTENS_AT_MOST = 4


def trimmed_nfc(text: str, limit: int) -> str | None:
    """``text`` in NFC and trimmed, or None when that is longer than ``limit`` characters: known
    without normalising a text that NFC could not make short enough."""
    if len(text) > limit * NFC_SHORTENS_AT_MOST and len(trim(text)) > limit * NFC_SHORTENS_AT_MOST:
        return None
    normalised = trim(nfc(text))
    return normalised if len(normalised) <= limit else None


def _is_space(ch: str) -> bool:
    return unicodedata.category(ch) == "Zs"


def trim(text: str) -> str:
    """``text`` without the spaces at its ends (category Zs: the space, no-break, ideographic...)."""
    if text.isascii():
        return text.strip(" ")
    start, end = 0, len(text)
    while start < end and _is_space(text[start]):
        start += 1
    while end > start and _is_space(text[end - 1]):
        end -= 1
    return text[start:end]


def unprintable_reason(text: str) -> str | None:
    """Why ``text`` is not printable, or None when it is."""
    if text.isascii():
        return _CONTROLS if _ASCII_UNPRINTABLE.search(text) else None
    if _printable.issuperset(text):
        return None
    reason = None
    for index, ch in enumerate(text):
        if unicodedata.category(ch) not in _UNPRINTABLE:
            _keep(_printable, ch)
        elif not _joins(text, index):
            reason = _CONTROLS
    return reason


def _joins(text: str, index: int) -> bool:
    """A joiner with a visible neighbour on each side: part of one emoji or one written word."""
    if text[index] not in _JOINERS or not 0 < index < len(text) - 1:
        return False
    before, after = text[index - 1], text[index + 1]
    return not (before.isspace() or after.isspace() or after in _JOINERS)


def _visible(ch: str) -> bool:
    return unicodedata.category(ch)[0] in _VISIBLE and ch not in _BLANK_LOOKING


def looks_blank(text: str) -> bool:
    """Nothing in ``text`` would show on screen."""
    if text.isascii():
        return _ASCII_VISIBLE.search(text) is None
    if not _visible_kept.isdisjoint(text):
        return False
    seen = next((ch for ch in text if _visible(ch)), None)
    if seen is None:
        return True
    _keep(_visible_kept, seen)
    return False


def has_letter(text: str) -> bool:
    if text.isascii():
        return _ASCII_LETTER.search(text) is not None
    if not _letters.isdisjoint(text):
        return True
    seen = next((ch for ch in text if unicodedata.category(ch)[0] == "L" and ch not in _BLANK_LOOKING), None)
    if seen is None:
        return False
    _keep(_letters, seen)
    return True


def plainly_a_name(text: str) -> bool:
    """``text`` is ASCII and passes every rule a name's text obeys: printable, not blank, with a
    letter, not starting with a mark. False says only that the rules must be asked one by one."""
    return (
        text.isascii()
        and _ASCII_PRINTABLE.fullmatch(text) is not None
        and _ASCII_LETTER.search(text) is not None
    )


def starts_with_mark(text: str) -> bool:
    """A combining mark first has nothing to combine with."""
    if text.isascii():
        return False
    return bool(text) and unicodedata.category(text[0])[0] == "M"


def fold(text: str) -> str:
    """The caseless form names are matched in (Unicode default caseless matching, in NFC)."""
    if text.isascii():
        return text.lower()
    return nfc(nfc(text).casefold())
