"""Audit events of two-factor authentication."""

from audit.events import register

register("twofactor.factor_added", "{actor} added a second factor for {target}: {factor}", "auth")
register("twofactor.factor_removed", "{actor} removed a second factor of {target}: {factor}", "auth")
register("twofactor.backup_codes_generated", "{actor} generated {count} new backup codes for {target}", "auth")
register("twofactor.backup_code_used", "{target} used a backup code ({remaining} left)", "auth")
register(
    "twofactor.sign_count_regressed",
    "A passkey of {target} ({credential}) sent signature counter {received}, not above {stored}: possibly cloned",
    "auth",
)
register("twofactor.factors_reset", "{actor} reset the second factors of {target} ({count} removed)", "member")
register("twofactor.policy_updated", "{actor} changed the two-factor policy: {summary}", "policy")
