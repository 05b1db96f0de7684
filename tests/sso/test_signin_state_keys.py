"""Sign-in session state has one owner, orgsecurity.signin_state: no sso module writes or reads a session key as a
string literal, and SSO's membership guard is registered through the registry function."""

from __future__ import annotations

import re
from pathlib import Path

import sso
from orgsecurity.actions import MEMBERSHIP_CHANGE_GUARDS
from sso.recovery.accounts import guard_membership_change

LITERAL_KEY = re.compile(r"""session(\[|\.get\(|\.pop\(|\.setdefault\()\s*["']""")


def test_no_sso_module_uses_a_literal_session_key():
    root = Path(sso.__file__).parent
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LITERAL_KEY.search(line)
    ]
    assert found == []


def test_the_membership_guard_is_registered_once():
    assert MEMBERSHIP_CHANGE_GUARDS.count(guard_membership_change) == 1
