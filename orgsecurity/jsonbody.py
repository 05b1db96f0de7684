"""One way to read JSON that a client sent (a request body, a browser's WebAuthn answer): ``parse_json``.

Python's ``json`` module recurses once per nesting level, so a body such as ``[[[[…]]]]`` nested a few thousand deep
raises ``RecursionError``, which is not a ``ValueError``: every place that parsed client JSON with
``except ValueError`` answered 500 to it (found by an attack run on the SCIM and passkey endpoints). A string holding
NUL (``"\u0000"``) is refused too: PostgreSQL stores no NUL in text and refuses it even as a query parameter, so any
such string reaching a query answered 500 (found by CI's PostgreSQL pass on an admin API workload name). Read client
JSON only through this function.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of objects and lists accepted (no SCIM, WebAuthn or admin API document comes near it)."""


class NotJSON(ValueError):
    """The text is not JSON, not UTF-8, nested deeper than ``MAX_DEPTH`` or holds NUL; ``str()`` says which, for a
    400."""


def parse_json(raw: bytes | str) -> Any:
    """The JSON value of ``raw`` (bytes are read as UTF-8; RFC 8259 §8.1). Raises ``NotJSON`` for bytes that are
    not UTF-8, text that is not JSON (RFC 8259), nesting deeper than ``MAX_DEPTH`` (checked before parsing so the
    parser never recurses deeper than that), or a string holding NUL."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError as exc:
        raise NotJSON(f"The body is not UTF-8 text ({exc.reason}).") from None
    if _depth(text) > MAX_DEPTH:
        raise NotJSON(f"The JSON is nested more than {MAX_DEPTH} levels deep.")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NotJSON(f"The body is not valid JSON ({exc}).") from None
    if "\\u0000" in text.lower() and _holds_nul(value):
        raise NotJSON("The JSON holds a NUL character (\\u0000), which no text here may contain.")
    return value


def _holds_nul(value: Any) -> bool:
    """Whether any string of ``value`` (keys included) holds NUL; iterative, so depth costs no recursion."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _depth(text: str) -> int:
    """The deepest bracket nesting of ``text`` outside JSON strings (an upper bound of the value's nesting)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
