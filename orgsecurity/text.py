"""Small helpers for the sentences people read, and the one rule for what a name or label may contain."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError


def end_sentence(text: str) -> str:
    """``text`` followed by a period, unless it already ends with one (or ``!``/``?``): "Acme Inc." stays as is,
    so a message reads "You left Acme Inc." and never "Acme Inc.."."""
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


# --- names and labels: plain text only --------------------------------------------------------------------------

# Characters a name or label may not contain, because they are invisible and change how the text around them is
# shown, split or run: Unicode general category Cc (C0 controls U+0000 to U+001F with NUL, TAB, LF, CR and ESC; DEL
# U+007F; C1 controls U+0080 to U+009F), the bidirectional formatting characters (Unicode property Bidi_Control, UAX #9
# §2: U+061C, U+200E, U+200F, the embeddings and overrides U+202A to U+202E and the isolates U+2066 to U+2069), the line
# and paragraph separators U+2028 and U+2029, and unpaired surrogates (not text at all: UTF-8 cannot encode them).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SEPARATORS = frozenset("\u2028\u2029")
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
}


def is_unsafe_character(character: str) -> bool:
    """True for one character a name or label may not contain (see above)."""
    return character in _BIDI_CONTROLS or character in _SEPARATORS or unicodedata.category(character) in {"Cc", "Cs"}


def describe_character(character: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``, ``U+000A LINE FEED``: a character as a person can read it in a message."""
    name = _CONTROL_NAMES.get(character) or unicodedata.name(character, "")
    if not name and unicodedata.category(character) == "Cc":
        name = "control character"
    return f"U+{ord(character):04X} {name}".rstrip()


def plain_text_problem(value: str | None) -> str | None:
    """Why ``value`` cannot be a name or label, as a sentence for the person who typed it, or None when it is plain
    text. Names the first offending character (e.g. U+202E RIGHT-TO-LEFT OVERRIDE)."""
    for character in value or "":
        if is_unsafe_character(character):
            return (
                f"Remove the invisible character {describe_character(character)}: names and labels are plain text, "
                "without control characters, line breaks or bidirectional overrides."
            )
    return None


def validate_plain_text(value: str | None) -> None:
    """Django validator for every name, label and reason field: raises ValidationError (code ``unsafe_text``) with
    ``plain_text_problem``'s sentence when ``value`` contains a control character, a line or paragraph separator or
    a bidirectional formatting character."""
    problem = plain_text_problem(value)
    if problem:
        raise ValidationError(problem, code="unsafe_text")


def neutralize_for_export(value: str) -> str:
    """``value`` with each character ``is_unsafe_character`` names written as its JSON-style escape (``\\u202e``,
    ``\\u000a``), as the JSON Lines export writes them: a spreadsheet or terminal reading an export shows the
    character instead of obeying it (no reversed text, no line or cell broken apart, no terminal escape)."""
    if value.isprintable():
        return value  # the common case in one C-speed pass: no Cc, Cs, Zl, Zp or Cf (bidi controls are Cf)
    return "".join(f"\\u{ord(c):04x}" if is_unsafe_character(c) else c for c in value)


# Cell starts a spreadsheet runs as a formula (OWASP "CSV Injection"), with the full-width forms some spreadsheet
# apps read as the ASCII ones.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_cell(value: Any) -> str:
    """``value`` as a CSV cell a spreadsheet shows but never obeys: None as empty text, every character
    ``is_unsafe_character`` names escaped (``neutralize_for_export``), and a cell that would start a formula
    (``FORMULA_TRIGGERS``) prefixed with an apostrophe, as OWASP's CSV Injection guidance recommends."""
    text = neutralize_for_export("" if value is None else str(value))
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def without_unsafe_characters(value: str) -> str:
    """``value`` made plain text for a name nobody can retype (e.g. the display name an IdP asserts): line breaks,
    tabs and other control characters become a space, bidirectional formatting characters and unpaired surrogates
    are dropped, runs of spaces become one and the result is stripped."""
    if value.isprintable():
        return value.strip()
    spaced = "".join(
        " " if unicodedata.category(c) in {"Cc", "Zl", "Zp"} else "" if is_unsafe_character(c) else c for c in value
    )
    return re.sub("  +", " ", spaced).strip()
