"""The status chart of a destination: events delivered per hour over the last 7 days, as inline SVG geometry drawn
on the server (the ``orgsecurity.overview`` approach: nothing loaded from a CDN, no script)."""

from __future__ import annotations

import datetime as dt
from datetime import UTC

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from audit_stream.models import DeliveredHour, Destination

HOURS = 7 * 24
WIDTH, HEIGHT = 336, 60


def hourly_counts(destination: Destination, now: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """``(hour start UTC, events delivered)`` for each of the last ``HOURS`` hours, oldest first (one query)."""
    last_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = last_hour - dt.timedelta(hours=HOURS - 1)
    stored = dict(
        DeliveredHour.objects.filter(destination=destination, hour__gte=first_hour).values_list("hour", "events")
    )
    hours = [first_hour + dt.timedelta(hours=index) for index in range(HOURS)]
    return [(hour, stored.get(hour, 0)) for hour in hours]


def chart_svg(destination: Destination, now: dt.datetime) -> SafeString:
    """An ``<svg class="delivery-chart">`` of ``hourly_counts`` with one bar per hour, a title per bar and a text
    summary for screen readers."""
    counts = hourly_counts(destination, now)
    peak = max((count for _, count in counts), default=0) or 1
    bar = WIDTH / HOURS
    total = sum(count for _, count in counts)
    parts = [
        f'<svg class="delivery-chart" id="delivery-chart-{destination.pk}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{total} events delivered in the last 7 days">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="none" stroke="#ccc"/>',
    ]
    for index, (hour, count) in enumerate(counts):
        if not count:
            continue
        height = max(1.0, (HEIGHT - 2) * count / peak)
        parts.append(
            f'<rect x="{index * bar:.2f}" y="{HEIGHT - height:.2f}" width="{max(bar - 0.3, 0.5):.2f}" '
            f'height="{height:.2f}" fill="#2f6fbd"><title>{escape(f"{hour:%Y-%m-%d %H}:00 UTC: {count}")}'
            "</title></rect>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # numbers and escaped text only
