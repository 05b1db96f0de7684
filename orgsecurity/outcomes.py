"""The end of every view that changes something: post/redirect/get, for a change made and for a change refused.

A view validates its form, then hands the action to ``act``: the action runs; done, the person sees ``success``
on the page they are sent to; refused (``orgsecurity.refusals.Refusal``, e.g. ``ActionRefused``), they see the
refusal's sentence on the page they are sent back to, which shows the state that is actually saved. Nothing is
rendered at the POST URL, so reloading never repeats the change. JSON clients (``orgsecurity.errors.wants_json``)
get ``{"ok": true, "message"}`` or the refusal as ``{"error": {"code", "message"}}`` with its status.

A form whose input is wrong (not a refused change) is still re-rendered with its field errors and a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from orgsecurity.errors import json_error, wants_json
from orgsecurity.refusals import Refusal

T = TypeVar("T")


def refused(request: HttpRequest, refusal: Refusal, to: str) -> HttpResponse:
    """Answer a refused change: JSON clients get ``refusal`` (its code, message and status); browsers get its
    message shown on ``to`` (a path) and a redirect there (302)."""
    if wants_json(request):
        return json_error(refusal.code, refusal.message, refusal.status)
    messages.error(request, refusal.message)
    return redirect(to)


def done(request: HttpRequest, message: str, to: str, *, level: int = messages.SUCCESS) -> HttpResponse:
    """Answer a change made: ``message`` shown on ``to`` (a path) after a redirect, or ``{"ok": true, "message"}``
    for JSON clients."""
    if wants_json(request):
        return JsonResponse({"ok": True, "message": message})
    messages.add_message(request, level, message)
    return redirect(to)


def act(
    request: HttpRequest,
    action: Callable[[], T],
    *,
    success: str | Callable[[T], str],
    to: str,
    refused_to: str | None = None,
) -> HttpResponse:
    """Run ``action`` (a call of an action function, taking no arguments) and answer with post/redirect/get:
    ``success`` (a sentence, or a function of the action's result giving one) on ``to``, or the refusal's sentence
    on ``refused_to`` (``to`` by default). Refusals other than ``Refusal`` propagate."""
    try:
        result = action()
    except Refusal as exc:
        return refused(request, exc, refused_to or to)
    message = success(result) if callable(success) else success
    return done(request, message, to)
