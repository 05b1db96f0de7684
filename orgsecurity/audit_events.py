"""Audit events of the core app: organizations, members, invitations, billing, sign-in."""

from audit.events import register

register("org.created", "{actor} created the organization {target}", "policy")
register("member.invited", "{actor} invited {email} as {role}", "member")
register(
    "member.invitation_reconfirmed",
    "{actor} re-confirmed the invitation for {target} as {role}, sent by {invited_by_old} ({reason})",
    "member",
)
register("member.invitation_revoked", "{actor} revoked the invitation for {target}", "member")
register("member.added", "{actor} added {target} as {role} ({via})", "member")
register("member.joined", "{actor} joined as {role}", "member")
register("member.role_changed", "{actor} changed the role of {target} from {role_old} to {role}", "member")
register("member.removed", "{actor} removed {target} (role {role_old})", "member")
register("project.renamed", "{actor} renamed the project {name_old} to {name}", "policy")
register("billing.updated", "{actor} changed the billing settings", "billing")
register("auth.signed_in", "{actor} signed in with {method}", "auth")
register("auth.sign_in_failed", "Failed {method} sign-in as {actor}: {reason}", "auth")
register("auth.identity_check_failed", "Failed {form} as {actor}: {reason}", "auth")
register("auth.locked_out", "Sign-in as {actor} locked out ({scope} limit) from {ip}", "auth")
register("auth.signed_out", "{actor} signed out", "auth")
register("auth.password_changed", "{actor} changed their password", "auth")
register("auth.password_reset", "{actor} set a new password through an emailed reset link", "auth")
register("member.suspended", "{actor} suspended {target} (deprovisioned: {reason})", "member")
register("member.deprovisioned", "{actor} deprovisioned {target}: their sessions and keys here ended", "member")
register("member.reactivated", "{actor} reactivated {target} as {role}", "member")
register("member.deprovision_refused", "{actor} was refused to {attempted} {target}: {reason}", "member")
register("team.member_added", "{actor} added {target} to the team {team}", "member")
register("team.member_removed", "{actor} removed {target} from the team {team}", "member")
