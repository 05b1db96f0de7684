"""Template filters for the sentences people read: ``{% load text %}``."""

from __future__ import annotations

from django import template

from orgsecurity.text import end_sentence as _end_sentence

register = template.Library()


@register.filter
def end_sentence(value: object) -> str:
    """``{{ org.name|end_sentence }}``: the name and a period, unless it already ends with one."""
    return _end_sentence(str(value))
