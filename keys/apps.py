"""App config for API keys and their restrictions."""

from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from keys.actions import on_membership_changed
        from orgsecurity.actions import MEMBERSHIP_CHANGED_HOOKS

        # A member's keys follow their membership: revoked on removal, and those the new role may not hold on a
        # role change, in the change's own transaction.
        if on_membership_changed not in MEMBERSHIP_CHANGED_HOOKS:
            MEMBERSHIP_CHANGED_HOOKS.append(on_membership_changed)
