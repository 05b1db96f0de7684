"""Audit events of SSO: connections, status, identities, tests."""

from audit.events import register

register("sso.connection_created", "{actor} created the {protocol} SSO connection {target}", "sso")
register("sso.connection_updated", "{actor} changed the SSO connection {target}", "sso")
register("sso.status_changed", "{actor} changed SSO status of {target} from {status_old} to {status}", "sso")
register(
    "sso.identity_linked",
    "{actor} linked {user} to the IdP identity {subject} ({via}; account email {account_email}, "
    "IdP email {asserted_email})",
    "sso",
)
register(
    "sso.identity_link_refused",
    "{actor} was not linked to the IdP identity {subject} ({via}): the IdP sent {asserted_email}, another member's "
    "email, not {account_email}",
    "sso",
)
register(
    "sso.identity_link_declined",
    "{actor} declined linking the IdP identity {subject} (account email {account_email}, IdP email {asserted_email})",
    "sso",
)
register("sso.identity_unlinked", "{actor} unlinked {user_old} from the IdP identity {subject_old}", "sso")
register("sso.test_started", "{actor} started an SSO test of {target}", "sso")
register("sso.test_opened", "{actor} opened the SSO test {run} of {target} to sign in at the IdP", "sso")
register("sso.connection_deleted", "{actor} deleted the {protocol_old} SSO connection {target}", "sso")
register("sso.tested", "{actor} tested {target}: {result} {error}", "sso")
register("sso.sign_in_refused", "SSO sign-in through {target} refused: {reason}", "auth")

# Rollout and enforcement
register("sso.enforcement_refused", "{actor} tried to enforce SSO on {target}; refused: {reasons}", "sso")
register("sso.enforcement_scheduled", "{actor} scheduled SSO enforcement of {target} for {enforce_at}", "sso")
register(
    "sso.enforcement_unscheduled",
    "{actor} cancelled the SSO enforcement of {target} planned for {enforce_at_old}",
    "sso",
)
register(
    "sso.enforcement_postponed", "SSO enforcement of {target} planned for {enforce_at} postponed: {reasons}", "sso"
)
register(
    "sso.test_group_changed", "{actor} changed the SSO test group of {target}: members {members}, teams {teams}", "sso"
)
register(
    "sso.fallback_confirmed",
    "{actor} confirmed the fallback login policy: recovery {recovery}, exceptions {exceptions}",
    "sso",
)
register(
    "sso.password_exception_added", "{actor} let {user} keep password sign-in under SSO enforcement: {reason}", "sso"
)
register("sso.password_exception_removed", "{actor} removed the password sign-in exception of {user_old}", "sso")
register(
    "sso.password_exception_used", "{actor} used password sign-in under SSO enforcement as a listed exception", "auth"
)
register(
    "sso.foreign_sso_session_refused",
    "A {method} session of {actor}, signed in through another organization's IdP, was asked to sign in here",
    "auth",
)
register("sso.password_session_refused", "A {method} session of {actor} was sent to the IdP of {target}", "auth")
register("sso.password_sign_in_refused", "Password sign-in of {actor} refused: SSO is enforced", "auth")
register("sso.test_plan_recorded", "{actor} recorded the SSO test plan step {item} ({via}) {note}", "sso")
register("sso.key_review_requested", "API keys need a review: {reason}", "key")
register("sso.recovery_designated", "{actor} made {user} a recovery account", "sso")
register("sso.recovery_removed", "{actor} removed the recovery account of {user_old}", "sso")
register("sso.recovery_codes_generated", "{actor} generated {count} new recovery codes", "sso")
register("sso.recovery_used", "{actor} signed in with a recovery code ({remaining_codes} left)", "auth")
register("sso.domain_claimed", "{actor} claimed the email domain {domain}", "sso")
register("sso.domain_verified", "{actor} verified the email domain {target} ({via}) {note}", "sso")
register("sso.domain_removed", "{actor} removed the email domain {domain_old}", "sso")

# IdP set-up links (sso.setup_links): the IdP admin's own actions name the link as actor.
register(
    "sso.setup_link_created",
    "{actor} made IdP set-up link #{link} for {target} ({recipient}), valid until {expires_at}",
    "sso",
)
register("sso.setup_link_revoked", "{actor} revoked IdP set-up link #{link} of {target}", "sso")
register("sso.setup_link_opened", "{actor} was opened in a browser from {ip}", "sso")
register("sso.setup_link_refused", "{actor} was refused ({reason}) from {ip}", "sso")
