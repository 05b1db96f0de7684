"""Names, labels and reasons are plain text: control characters (CR, LF, ESC, NUL, ...), line separators and
bidirectional overrides (U+202A to U+202E, U+2066 to U+2069) are refused with a message naming the character, and
exports write them as escapes. The forms and actions that use this are tested in tests/keys/test_plain_names.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from orgsecurity.text import neutralize_for_export, plain_text_problem, spreadsheet_cell, validate_plain_text

UNSAFE = [
    ("\r", "U+000D CARRIAGE RETURN"),
    ("\n", "U+000A LINE FEED"),
    ("\x1b", "U+001B ESCAPE"),
    ("\x00", "U+0000 NUL"),
    ("\t", "U+0009 TAB"),
    ("\x7f", "U+007F DELETE"),
    ("\x85", "U+0085"),
    ("\u2028", "U+2028 LINE SEPARATOR"),
    ("\u202a", "U+202A LEFT-TO-RIGHT EMBEDDING"),
    ("\u202b", "U+202B RIGHT-TO-LEFT EMBEDDING"),
    ("\u202c", "U+202C POP DIRECTIONAL FORMATTING"),
    ("\u202d", "U+202D LEFT-TO-RIGHT OVERRIDE"),
    ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("\u2067", "U+2067 RIGHT-TO-LEFT ISOLATE"),
    ("\u2068", "U+2068 FIRST STRONG ISOLATE"),
    ("\u2069", "U+2069 POP DIRECTIONAL ISOLATE"),
    ("\u200f", "U+200F RIGHT-TO-LEFT MARK"),
    ("\ud800", "U+D800"),
]
SAFE = ["Berlin office VPN", "Zoë Müller", "東京 オフィス", "مكتب دبي", "nightly-export (v2)", "a\u00a0b", "😀"]


@pytest.mark.parametrize(("character", "named"), UNSAFE)
def test_every_unsafe_character_is_refused_by_name(character, named):
    problem = plain_text_problem(f"report{character}.pdf")
    assert problem is not None and named in problem
    with pytest.raises(ValidationError, match="Remove the invisible character"):
        validate_plain_text(f"x{character}")


@pytest.mark.parametrize("text", SAFE)
def test_plain_text_in_any_script_is_accepted_and_exported_unchanged(text):
    assert plain_text_problem(text) is None
    validate_plain_text(text)
    assert neutralize_for_export(text) == text == spreadsheet_cell(text)


def test_exports_escape_what_names_refuse():
    assert neutralize_for_export("evil\u202etxt.exe") == "evil\\u202etxt.exe"
    assert spreadsheet_cell("\r\n=cmd") == "\\u000d\\u000a=cmd"
    assert spreadsheet_cell("=1+1") == "'=1+1"
    assert spreadsheet_cell(None) == ""


def test_names_an_idp_asserts_are_made_plain_text():
    # An IdP's display name cannot be refused like a typed one: a new account gets it without the unsafe characters.
    from sso.assertion import MappedProfile

    assert MappedProfile(display_name="Mallory\u202e \u2066Admin\u2069\r\nCEO\x00").name == "Mallory Admin CEO"
    assert MappedProfile(first_name="Zoë", last_name="Müller").name == "Zoë Müller"
