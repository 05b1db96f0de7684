"""Small helpers for the sentences people read."""

from __future__ import annotations


def end_sentence(text: str) -> str:
    """``text`` followed by a period, unless it already ends with one (or ``!``/``?``): "Acme Inc." stays as is,
    so a message reads "You left Acme Inc." and never "Acme Inc.."."""
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."
