"""Reading the version a settings form was loaded at (``orgsecurity.versions``) out of a rendered page."""

from __future__ import annotations

import html
import re


def form_version(page: str, action: str) -> str:
    """The ``loaded_version`` hidden field of the (first) form of ``page`` that posts to ``action`` (a path)."""
    for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", page, re.S):
        if f'action="{action}"' not in match.group(0)[: match.group(0).index(">") + 1]:
            continue
        found = re.search(r'name="loaded_version" value="([^"]*)"', match.group(1))
        assert found and found.group(1), f"the form posting to {action} carries no loaded_version"
        return html.unescape(found.group(1))
    raise AssertionError(f"no form posts to {action}")
