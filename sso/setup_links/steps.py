"""The four steps of setting a connection up, each done or not from stored state (read-only): the connection page
and the IdP admin's set-up page both show them.

1. give the IdP our details (done once the IdP answered a test sign-in: it knew them),
2. enter the IdP's details (SAML: entity ID, SSO URL and a signing certificate; OIDC: issuer, client ID, secret),
3. test (an owner or admin passed a test sign-in; a set-up link's passing test is shown but does not count),
4. roll out (status on for everyone, then enforced).
"""

from __future__ import annotations

from dataclasses import dataclass

from sso.models import OIDCSettings, SAMLSettings, SSOConnection, SSOTestRun

DONE, NEXT, TODO = "done", "next", "to do"


@dataclass(frozen=True)
class Step:
    """One step: ``number`` (1-4), ``key`` (``sp``, ``idp``, ``test``, ``rollout``), ``title``, ``state`` (done,
    next or to do: the first step not done is next) and ``summary``, one sentence on what is stored."""

    number: int
    key: str
    title: str
    state: str
    summary: str


def idp_details_entered(connection: SSOConnection) -> bool:
    """Whether the IdP's side of ``connection`` is complete enough to send a sign-in to it."""
    if connection.protocol == SSOConnection.Protocol.SAML:
        saml = SAMLSettings.objects.filter(connection=connection).first()
        return bool(saml and saml.idp_entity_id and saml.idp_sso_url and saml.idp_certificates)
    oidc = OIDCSettings.objects.filter(connection=connection).first()
    return bool(oidc and oidc.issuer and oidc.client_id and oidc.client_secret_encrypted)


def connection_steps(connection: SSOConnection) -> list[Step]:
    """The four steps of ``connection`` with their state (4 small queries)."""
    runs = SSOTestRun.objects.filter(connection=connection)
    answered = (
        runs.filter(result=SSOTestRun.Result.SUCCESS).exists()
        or runs.filter(result=SSOTestRun.Result.FAILURE, details__has_key="subject").exists()
    )
    entered = idp_details_entered(connection)
    admin_pass = runs.filter(result=SSOTestRun.Result.SUCCESS, actor__isnull=False).order_by("-finished_at").first()
    link_pass = runs.filter(result=SSOTestRun.Result.SUCCESS, setup_link__isnull=False).exists()
    status = connection.status
    if admin_pass is not None:
        test_summary = f"Passed for {admin_pass.actor.email} on {admin_pass.finished_at:%Y-%m-%d %H:%M} UTC."
    elif link_pass:
        test_summary = "Your IdP admin's test through a set-up link passed; an owner or admin still tests."
    else:
        test_summary = "No passing test by an owner or admin yet."
    rollout_summary = {
        SSOConnection.Status.OFF: "SSO is off: nobody signs in through it yet.",
        SSOConnection.Status.TESTING: "Testing: only the test group signs in through SSO.",
        SSOConnection.Status.ON: "On for everyone; passwords still work.",
        SSOConnection.Status.ENFORCED: "Enforced: members sign in through the IdP only.",
    }[status]
    done = [
        answered,
        entered,
        admin_pass is not None,
        status == SSOConnection.Status.ENFORCED,
    ]
    summaries = [
        "The IdP has answered a test sign-in, so it has our details."
        if answered
        else "Copy these into the IdP (or send it our metadata).",
        "The IdP's details are saved." if entered else "Not entered yet.",
        test_summary,
        rollout_summary,
    ]
    titles = [
        ("sp", "Give the IdP our details"),
        ("idp", "Enter the IdP's details"),
        ("test", "Test a sign-in"),
        ("rollout", "Roll out"),
    ]
    steps = []
    next_given = False
    for number, ((key, title), is_done, summary) in enumerate(zip(titles, done, summaries, strict=True), start=1):
        if is_done:
            state = DONE
        elif not next_given:
            state, next_given = NEXT, True
        else:
            state = TODO
        steps.append(Step(number, key, title, state, summary))
    return steps
