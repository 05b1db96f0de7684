"""The confirmation page every risky change goes through, and its CSV: one shape for any ``Impact``.

A change that can cut people or programs off is shown first (GET): what it does, each group of ``Impact`` with its
count and names, and a "Download CSV" link of the same list (the same URL with ``format=csv``). The form on the page
posts the change's parameters back (hidden fields) to the same URL, whose POST calls the action and redirects. The
view computes the ``Impact`` with the app's ``preview_<change>(...)``; this module only presents it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from orgsecurity.accessors import OrgContext
from orgsecurity.errors import wants_json
from orgsecurity.impact import Impact
from orgsecurity.text import spreadsheet_cell

CSV_HEADER = ("group", "name", "ref", "what happens", "blocking")


def impact_rows(impact: Impact) -> list[list[str]]:
    """The rows of the CSV, header first: one per item, in the page's order (group label, name, ref, detail,
    "yes"/"" for blocking), every cell made safe for spreadsheets (``orgsecurity.text.spreadsheet_cell``)."""
    rows = [list(CSV_HEADER)]
    for group in impact.groups:
        for item in group.items:
            values = (group.label, item.name, item.ref, item.detail, "yes" if item.blocking else "")
            rows.append([spreadsheet_cell(value) for value in values])
    return rows


def impact_csv(impact: Impact) -> str:
    """``impact_rows`` as CSV text (RFC 4180, CRLF line ends)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(impact_rows(impact))
    return buffer.getvalue()


def wants_csv(request: HttpRequest) -> bool:
    """True when the confirmation page was asked for its CSV (``?format=csv``)."""
    return request.GET.get("format") == "csv"


def csv_response(impact: Impact, filename: str) -> HttpResponse:
    """``impact`` as a CSV download named ``filename`` (letters, digits, dots and dashes kept; ``.csv`` added)."""
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", filename).strip("-") or "impact"
    response = HttpResponse(impact_csv(impact), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{safe}.csv"'
    add_never_cache_headers(response)
    return response


@dataclass
class Confirmation:
    """What one confirmation page says and posts.

    ``title``: the heading ("Turn on the IP allowlist?"); ``intro``: what the change does, one or two sentences;
    ``button``: the confirm button's text; ``cancel_url``: where "Cancel" goes (the page the change came from);
    ``hidden``: the change's parameters, posted back as hidden fields (a list value posts one field per item);
    ``filename``: the CSV's name without ``.csv``; ``error``: why the last attempt was refused, if it was;
    ``action_url``: where the form posts (the page's own path when empty); ``blocked``: the action would refuse the
    change as it stands (e.g. a blocking item that cannot be acknowledged), so the confirm button is disabled and
    ``error`` should say why.
    """

    title: str
    intro: str
    button: str
    cancel_url: str
    hidden: dict[str, str | Iterable[str]] = field(default_factory=dict)
    filename: str = "impact"
    error: str = ""
    action_url: str = ""
    blocked: bool = False


def _hidden_fields(hidden: dict[str, str | Iterable[str]]) -> list[tuple[str, str]]:
    fields = []
    for name, value in hidden.items():
        values = [value] if isinstance(value, str) else list(value)
        fields.extend((name, str(one)) for one in values)
    return fields


def confirmation_page(
    request: HttpRequest, org: OrgContext, impact: Impact, page: Confirmation, *, status: int = 200
) -> HttpResponse:
    """The confirmation page of one change (GET), its CSV when ``?format=csv`` is asked for, or ``Impact.as_dict``
    for JSON clients (``orgsecurity.errors.wants_json``). The form posts
    ``page.hidden`` to ``page.action_url`` (the current path by default), whose POST applies the change and
    redirects."""
    if wants_csv(request):
        return csv_response(impact, page.filename)
    if wants_json(request):
        return JsonResponse(impact.as_dict())  # the same preview for programs (``Impact.as_dict``)
    query = request.GET.copy()
    query["format"] = "csv"
    context = {
        "org": org,
        "impact": impact,
        "page": page,
        "hidden": _hidden_fields(page.hidden),
        "action_url": page.action_url or request.path,
        "csv_url": f"{request.path}?{query.urlencode()}",
    }
    response = render(request, "orgsecurity/impact_confirm.html", context, status=status)
    add_never_cache_headers(response)
    return response
