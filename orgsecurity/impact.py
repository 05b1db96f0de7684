"""What a change would do before it is made: the shape every ``preview_<change>(...) -> Impact`` returns.

A preview is read-only. It lists, in groups, the people, keys, sessions (or other things) a change would affect, so a
confirmation page, an API answer or an email can show them, and marks the items that must be resolved first
(``blocking``): the change is refused while a blocking item is neither resolved nor acknowledged by name. This module
depends on nothing of the product, so any app can build an Impact (e.g. ``sso.rollout.scheduling.preview_enforcement``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ImpactItem:
    """One thing a change affects.

    ``ref``: a stable identifier within its group (e.g. a user id or a key ID), used to acknowledge it; ``name``: how
    people know it (an email, a key's name); ``detail``: one sentence on what happens to it; ``blocking``: the change
    is refused while this item is not resolved or acknowledged by name.
    """

    ref: str
    name: str
    detail: str = ""
    blocking: bool = False


@dataclass(frozen=True)
class ImpactGroup:
    """Items of one kind (``key``, e.g. "people", "keys", "sessions") with a heading (``label``) and a sentence saying
    what happens to all of them (``summary``)."""

    key: str
    label: str
    summary: str
    items: tuple[ImpactItem, ...] = ()

    @property
    def count(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Impact:
    """The effect of one change (``change``: a short name such as "sso.enforce"), as groups of affected items.

    ``blockers(acknowledged)``: the blocking items whose ``ref`` is not in ``acknowledged``; the change goes ahead
    only when it is empty. ``notes``: sentences that concern the change as a whole (e.g. "Members are emailed").
    """

    change: str
    groups: tuple[ImpactGroup, ...] = ()
    notes: tuple[str, ...] = ()

    def group(self, key: str) -> ImpactGroup:
        """The group named ``key``; KeyError when the preview has none."""
        for group in self.groups:
            if group.key == key:
                return group
        raise KeyError(key)

    @property
    def total(self) -> int:
        """How many items are affected, over every group."""
        return sum(group.count for group in self.groups)

    def blockers(self, acknowledged: Collection[str] = ()) -> list[ImpactItem]:
        """The blocking items not in ``acknowledged`` (refs), in group order."""
        return [item for group in self.groups for item in group.items if item.blocking and item.ref not in acknowledged]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form for API answers: {"change", "total", "notes": [...], "groups": [{"key", "label",
        "summary", "count", "items": [{"ref", "name", "detail", "blocking"}]}]}."""
        return {
            "change": self.change,
            "total": self.total,
            "notes": list(self.notes),
            "groups": [
                {**asdict(group), "items": [asdict(item) for item in group.items], "count": group.count}
                for group in self.groups
            ],
        }

    def blocking_items(self) -> list[ImpactItem]:
        """Every blocking item, acknowledged or not (what a confirmation page offers to acknowledge)."""
        return self.blockers(())
