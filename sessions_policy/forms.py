"""The session policy form: each duration is a number and a unit (minutes, hours, days), saved in seconds."""

from __future__ import annotations

from typing import Any

from django import forms

from sessions_policy import rules
from sessions_policy.rules import SessionRules, format_duration

UNITS = [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
UNIT_SECONDS = {"minutes": rules.MINUTE, "hours": rules.HOUR, "days": rules.DAY}


class DurationWidget(forms.MultiWidget):
    """A number box and a unit menu side by side."""

    template_name = "sessions_policy/duration_widget.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            [forms.NumberInput(attrs={"min": 1, "step": 1}), forms.Select(choices=UNITS, attrs={"aria-label": "unit"})],
            attrs,
        )

    def decompress(self, value: int | None) -> list[Any]:
        if not value:
            return [None, "minutes"]
        for unit in ("days", "hours", "minutes"):
            if value % UNIT_SECONDS[unit] == 0:
                return [value // UNIT_SECONDS[unit], unit]
        return [value // rules.MINUTE, "minutes"]


class DurationField(forms.MultiValueField):
    """A duration typed as number + unit; cleans to whole seconds within [minimum, maximum]."""

    widget = DurationWidget

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        self.minimum, self.maximum = minimum, maximum
        fields = (
            forms.IntegerField(min_value=1, max_value=10**6, error_messages={"invalid": "Enter a whole number."}),
            forms.ChoiceField(choices=UNITS),
        )
        super().__init__(fields, require_all_fields=True, **kwargs)

    def compress(self, data_list: list[Any]) -> int | None:
        if not data_list:
            return None
        number, unit = data_list
        seconds = int(number) * UNIT_SECONDS[unit]
        if not self.minimum <= seconds <= self.maximum:
            raise forms.ValidationError(
                f"Choose between {format_duration(self.minimum)} and {format_duration(self.maximum)}."
            )
        return seconds


class SessionPolicyForm(forms.Form):
    """Idle timeout, absolute lifetime, re-authentication window and single session, with their bounds."""

    idle_timeout_s = DurationField(
        label="Idle timeout",
        minimum=rules.IDLE_MIN,
        maximum=rules.IDLE_MAX,
        help_text=(
            f"Sign members out after this long without activity ({format_duration(rules.IDLE_MIN)} "
            f"to {format_duration(rules.IDLE_MAX)})."
        ),
    )
    absolute_timeout_s = DurationField(
        label="Absolute lifetime",
        minimum=rules.ABSOLUTE_MIN,
        maximum=rules.IDLE_MAX,  # replaced in __init__ by the site's ceiling (SESSION_COOKIE_AGE)
        help_text="End every session this long after sign-in, however active (at least the idle timeout).",
    )
    reauth_max_age_s = DurationField(
        label="Re-authentication window",
        minimum=rules.REAUTH_MIN,
        maximum=rules.REAUTH_MAX,
        help_text=(
            "Sensitive actions ask members to confirm who they are when they last did more than this long ago "
            f"({format_duration(rules.REAUTH_MIN)} to {format_duration(rules.REAUTH_MAX)})."
        ),
    )
    single_session = forms.BooleanField(
        label="One session per member: a new sign-in ends the member's older sessions",
        required=False,
    )

    def __init__(self, *args: Any, current: SessionRules, **kwargs: Any) -> None:
        kwargs.setdefault("initial", current.as_dict())
        super().__init__(*args, **kwargs)
        absolute = self.fields["absolute_timeout_s"]
        absolute.maximum = rules.absolute_max()
        absolute.help_text += f" This site allows at most {format_duration(absolute.maximum)}."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        idle, absolute, reauth = (
            cleaned.get(name) for name in ("idle_timeout_s", "absolute_timeout_s", "reauth_max_age_s")
        )
        if None not in (idle, absolute, reauth):
            for field, message in rules.validate(idle, absolute, reauth).items():
                self.add_error(field, message)
        return cleaned
