"""The security overview of an organization: sign-in activity and SSO adoption from the audit trail, and the
panels and pending risky states the theme apps register.

The counts come from ``audit.AuditEvent`` in two aggregate queries over the last ``WINDOW_DAYS`` days (UTC), each
an index-only range scan of ``audit_org_signin_idx`` on PostgreSQL (a partial index of the sign-in actions holding
every column they read): their number does not grow with the number of events. The chart is plain SVG geometry
computed here (``chart``) and drawn by the template, so nothing is loaded from a CDN and no script runs.

Theme apps plug in from their ``AppConfig.ready()`` (the core names no theme app):

- ``register_overview_panel(OverviewPanel(...))``: a titled list of rows (e.g. SSO certificate expiry per
  connection, API keys expiring soon);
- ``register_pending_states(source)``: risky states waiting to happen, one ``OverviewRow`` each (enforcement
  scheduled or postponed today; paused audit destinations and members without a second factor are meant to
  register here once those features exist).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC

from django.db.models import Count, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from audit.models import SIGN_IN_ACTIONS, ActorType, AuditEvent
from orgsecurity.accessors import OrgContext
from orgsecurity.models import Membership, Organization
from orgsecurity.roles import Capability

WINDOW_DAYS = 30
SIGNED_IN = "auth.signed_in"
SIGN_IN_FAILED = "auth.sign_in_failed"
# Refusals recorded by the SSO app: the core reads them only by their action names (no import of the app).
SSO_REFUSED = "sso.sign_in_refused"
SSO_PASSWORD_REFUSED = "sso.password_sign_in_refused"  # noqa: S105 (an action name)
SSO_METHODS = frozenset({"saml", "oidc"})


# --- the registries the theme apps fill ---------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewRow:
    """One line of a panel: ``label`` (e.g. a connection or key name), ``value`` (what to know about it),
    ``warning`` when it needs attention, and an optional ``url`` of the page to act on it, which only members
    with ``opens_with`` (the capability that page asks for; None: any member) are shown: an auditor reads the
    overview but cannot open the security settings pages, so a link there would answer 403."""

    label: str
    value: str
    warning: bool = False
    url: str = ""
    opens_with: Capability | None = Capability.MANAGE_SECURITY


@dataclass(frozen=True)
class OverviewPanel:
    """A titled list of rows on the overview: ``rows(org, now) -> list[OverviewRow]`` (``org`` an ``OrgContext``,
    ``now`` an aware UTC datetime), shown to members with ``capability``, in ascending ``position``; ``empty`` is
    the sentence shown when there is no row."""

    title: str
    key: str
    rows: Callable[[OrgContext, dt.datetime], list[OverviewRow]]
    position: int
    empty: str = "Nothing to show."
    capability: Capability = Capability.VIEW_AUDIT


_PANELS: list[OverviewPanel] = []
_PENDING_SOURCES: list[Callable[[OrgContext, dt.datetime], list[OverviewRow]]] = []


def register_overview_panel(panel: OverviewPanel) -> None:
    """Add (or, for a ``key`` registered before, replace) a panel. Call it from ``AppConfig.ready()``."""
    _PANELS[:] = sorted([*(known for known in _PANELS if known.key != panel.key), panel], key=lambda p: p.position)


def register_pending_states(source: Callable[[OrgContext, dt.datetime], list[OverviewRow]]) -> None:
    """Add a source of pending risky states: ``source(org, now)`` returns one ``OverviewRow`` per state (e.g.
    "SSO enforcement scheduled for …"). Registering the same function twice adds it once."""
    if source not in _PENDING_SOURCES:
        _PENDING_SOURCES.append(source)


def overview_panels(org: OrgContext, now: dt.datetime) -> list[dict]:
    """The registered panels ``org``'s member may see, each ``{"title", "key", "rows", "empty"}``."""
    return [
        {"title": panel.title, "key": panel.key, "rows": _openable(org, panel.rows(org, now)), "empty": panel.empty}
        for panel in _PANELS
        if org.can(panel.capability)
    ]


def pending_states(org: OrgContext, now: dt.datetime) -> list[OverviewRow]:
    """Every pending risky state the registered sources report for ``org``."""
    return _openable(org, [row for source in _PENDING_SOURCES for row in source(org, now)])


def _openable(org: OrgContext, rows: list[OverviewRow]) -> list[OverviewRow]:
    """``rows`` with the links ``org``'s member cannot open removed (the row itself stays)."""
    return [
        row if not row.url or row.opens_with is None or org.can(row.opens_with) else replace(row, url="")
        for row in rows
    ]


# --- sign-in activity from the audit trail --------------------------------------------------------------------


@dataclass
class Day:
    """One UTC day of sign-ins: ``successes`` and ``failures`` by reason (e.g. ``{"wrong password": 3}``)."""

    date: dt.date
    successes: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


@dataclass(frozen=True)
class Activity:
    """``WINDOW_DAYS`` consecutive days, oldest first, and every failure reason seen (most frequent first)."""

    days: list[Day]
    reasons: list[str]

    @property
    def successes(self) -> int:
        return sum(day.successes for day in self.days)

    @property
    def failures(self) -> int:
        return sum(day.failed for day in self.days)


def window_start(now: dt.datetime) -> dt.datetime:
    """Midnight UTC starting the first of the ``WINDOW_DAYS`` days ending with ``now``'s day."""
    first = now.astimezone(UTC).date() - dt.timedelta(days=WINDOW_DAYS - 1)
    return dt.datetime.combine(first, dt.time(), tzinfo=UTC)


def failure_reason(action: str, reason: str | None) -> str:
    """How a failed sign-in's reason reads on the overview: the password form's own reason ("wrong password",
    "locked out"), an SSO refusal by its code ("SSO: unknown_identity"), a password sign-in refused because the
    organization enforces SSO ("password while SSO enforced")."""
    if action == SSO_PASSWORD_REFUSED:
        return "password while SSO enforced"
    if action == SSO_REFUSED:
        return f"SSO: {reason or 'refused'}"
    return reason or "unknown"


def sign_in_rows(organization: Organization, now: dt.datetime) -> QuerySet:
    """The per-day aggregate ``sign_in_activity`` reads: ``{"action", "day", "reason", "count"}`` rows."""
    return (
        AuditEvent.objects.filter(
            organization=organization, action__in=SIGN_IN_ACTIONS, occurred_at__gte=window_start(now)
        )
        .values("action", day=TruncDate("occurred_at", tzinfo=UTC), reason=KeyTextTransform("reason", "details"))
        .annotate(count=Count("*"))
        .order_by()
    )


def sign_in_activity(organization: Organization, now: dt.datetime) -> Activity:
    """Successful and failed sign-ins recorded in ``organization``'s audit trail per UTC day, for the
    ``WINDOW_DAYS`` days ending with ``now``'s day (one aggregate query). Throttled events (repeated SSO refusals
    from one client, repeated failures for an unknown email) count once per throttle window, as recorded."""
    start = window_start(now)
    days = {start.date() + dt.timedelta(days=n): Day(start.date() + dt.timedelta(days=n)) for n in range(WINDOW_DAYS)}
    totals: dict[str, int] = defaultdict(int)
    for row in sign_in_rows(organization, now):
        day = days.get(row["day"])
        if day is None:  # recorded after ``now`` (a fixed clock in the past)
            continue
        if row["action"] == SIGNED_IN:
            day.successes += row["count"]
            continue
        reason = failure_reason(row["action"], row["reason"])
        day.failures[reason] = day.failures.get(reason, 0) + row["count"]
        totals[reason] += row["count"]
    reasons = sorted(totals, key=lambda reason: (-totals[reason], reason))
    return Activity(days=list(days.values()), reasons=reasons)


@dataclass(frozen=True)
class Adoption:
    """How the current members signed in over the window: ``sso`` (at least once through the IdP), ``password``
    (only with a password or recovery code), ``none`` (not at all); ``members`` is their total."""

    members: int
    sso: int
    password: int
    none: int

    def rows(self) -> list[dict]:
        """The table rows: ``{"key", "label", "count", "percent"}`` (percent of ``members``, rounded)."""
        return [
            {
                "key": key,
                "label": label,
                "count": count,
                "percent": round(100 * count / self.members) if self.members else 0,
            }
            for key, label, count in (
                ("sso", "Through SSO", self.sso),
                ("password", "With a password only", self.password),
                ("none", "Not at all", self.none),
            )
        ]


def sso_adoption(organization: Organization, now: dt.datetime) -> Adoption:
    """SSO adoption among ``organization``'s current members over the ``WINDOW_DAYS`` days ending with ``now``'s
    day, from their ``auth.signed_in`` events (two queries: the members, and each person's distinct methods)."""
    members = {
        str(pk)
        for pk in Membership.objects.active().filter(organization=organization).values_list("user_id", flat=True)
    }
    methods = (
        AuditEvent.objects.filter(
            organization=organization,
            action=SIGNED_IN,
            occurred_at__gte=window_start(now),
            occurred_at__lte=now,
            actor_type=ActorType.USER,
        )
        .values_list("actor_id", KeyTextTransform("method", "details"))
        .distinct()
        .order_by()
    )
    by_sso: set[str] = set()
    by_password: set[str] = set()
    for actor_id, method in methods:
        if actor_id in members:
            (by_sso if method in SSO_METHODS else by_password).add(actor_id)
    password_only = by_password - by_sso
    return Adoption(
        members=len(members),
        sso=len(by_sso),
        password=len(password_only),
        none=len(members) - len(by_sso) - len(password_only),
    )


# --- the chart --------------------------------------------------------------------------------------------------

CHART_HEIGHT = 160  # px of the plot area
BAR_WIDTH = 14
BAR_GAP = 6
LEFT = 36  # room for the scale
PALETTE = ("#c0392b", "#e67e22", "#8e44ad", "#7f8c8d", "#d35400", "#2c3e50")
SUCCESS_COLOUR = "#2e8b57"


@dataclass(frozen=True)
class Bar:
    """One segment of a day's stacked bar, in SVG user units: ``x``, ``y`` (top), ``height``, its ``colour``, the
    ``series`` name ("signed in" or a failure reason) and ``count``; ``title`` is its tooltip."""

    x: int
    y: str
    height: str
    colour: str
    series: str
    count: int
    title: str


def chart(activity: Activity) -> dict:
    """The geometry of the stacked bar chart of ``activity`` (drawn by ``chart_svg``):
    ``width``/``height``, ``bars`` (one ``Bar`` per non-empty segment), ``labels`` (``{"x", "text", "date"}`` under
    every day, dates as MM-DD), ``scale`` (the top value), ``legend`` (``{"colour", "series"}``), ``summary`` (the
    chart's text alternative) and ``failure_days`` (``{"reason", "days"}``: the days of each failure reason as
    text, "11-17: 2 · 11-20: 1", the table under the chart). Numbers are formatted here: the template only places
    them."""
    colours = {reason: PALETTE[n % len(PALETTE)] for n, reason in enumerate(activity.reasons)}
    top = max([day.successes + day.failed for day in activity.days] + [1])
    bars: list[Bar] = []
    labels = []
    for n, day in enumerate(activity.days):
        x = LEFT + n * (BAR_WIDTH + BAR_GAP)
        base = float(CHART_HEIGHT)
        segments = [("signed in", day.successes, SUCCESS_COLOUR)] + [
            (reason, day.failures.get(reason, 0), colours[reason]) for reason in activity.reasons
        ]
        for series, count, colour in segments:
            if not count:
                continue
            height = CHART_HEIGHT * count / top
            base -= height
            title = f"{day.date:%Y-%m-%d}: {count} {series if series == 'signed in' else 'failed: ' + series}"
            bars.append(Bar(x, f"{base:.2f}", f"{height:.2f}", colour, series, count, title))
        labels.append({"x": x + BAR_WIDTH // 2, "text": f"{day.date:%m-%d}", "date": day.date.isoformat()})
    legend = [{"colour": SUCCESS_COLOUR, "series": "signed in"}] + [
        {"colour": colours[reason], "series": reason} for reason in activity.reasons
    ]
    first, last = activity.days[0].date, activity.days[-1].date
    failure_days = [
        {
            "reason": reason,
            "days": " · ".join(
                f"{day.date:%m-%d}: {day.failures[reason]}" for day in activity.days if day.failures.get(reason)
            ),
        }
        for reason in activity.reasons
    ]
    return {
        "failure_days": failure_days,
        "width": LEFT + len(activity.days) * (BAR_WIDTH + BAR_GAP),
        "height": CHART_HEIGHT + 50,
        "plot_height": CHART_HEIGHT,
        "label_y": CHART_HEIGHT + 12,
        "bars": bars,
        "labels": labels,
        "scale": top,
        "legend": legend,
        "summary": (
            f"Sign-ins per day from {first:%Y-%m-%d} to {last:%Y-%m-%d}: "
            f"{activity.successes} successful, {activity.failures} failed."
        ),
    }


def chart_svg(geometry: dict) -> SafeString:
    """The inline SVG figure of ``geometry`` (what ``chart`` returns): ``svg#sign-in-chart`` with one
    ``rect.bar`` per segment (``data-series``, ``data-count``, a ``<title>`` tooltip), one ``text.day`` label per
    day (``data-date``), the scale, and a legend as the caption. Written here rather than by a template: a month of
    bars is about a thousand template nodes, most of the page's time. Every text is escaped."""
    plot, width, baseline = geometry["plot_height"], geometry["width"], geometry["label_y"]
    axis = LEFT - 2
    parts = [
        "<figure>",
        f'<svg id="sign-in-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {geometry["height"]}" '
        'width="100%" role="img" aria-labelledby="sign-in-chart-summary">',
        f'<title id="sign-in-chart-summary">{escape(geometry["summary"])}</title>',
        f'<line x1="{axis}" y1="0" x2="{axis}" y2="{plot}" stroke="#999"/>',
        f'<line x1="{axis}" y1="{plot}" x2="{width}" y2="{plot}" stroke="#999"/>',
        f'<text x="{axis - 4}" y="10" text-anchor="end" font-size="10">{geometry["scale"]}</text>',
        f'<text x="{axis - 4}" y="{plot}" text-anchor="end" font-size="10">0</text>',
    ]
    parts.extend(
        f'<rect class="bar" x="{bar.x}" y="{bar.y}" width="{BAR_WIDTH}" height="{bar.height}" fill="{bar.colour}" '
        f'data-series="{escape(bar.series)}" data-count="{bar.count}"><title>{escape(bar.title)}</title></rect>'
        for bar in geometry["bars"]
    )
    parts.extend(
        f'<text class="day" x="{label["x"]}" y="{baseline}" font-size="8" text-anchor="end" '
        f'transform="rotate(-60 {label["x"]} {baseline})" data-date="{label["date"]}">{label["text"]}</text>'
        for label in geometry["labels"]
    )
    parts.append("</svg><figcaption>")
    parts.extend(
        f'<span class="legend"><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" '
        f'fill="{item["colour"]}"/></svg> {escape(item["series"])}</span> '
        for item in geometry["legend"]
    )
    parts.append("</figcaption></figure>")
    return mark_safe("".join(parts))  # every text above is escaped
