"""IdP set-up links (issue 21): an owner or admin hands the customer's IdP admin, who has no account, a link that
opens the set-up of one connection in one browser until it expires or is revoked; through it they enter the IdP's
details and run a test sign-in, and can do nothing else."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from audit.models import ActorType, AuditEvent
from orgsecurity import actions as org_actions
from orgsecurity.actions import ActionRefused
from orgsecurity.models import Membership
from sso.models import SAMLSettings, SSOConnection, SSOIdentity, SSOSetupLink, SSOTestPlanItem, SSOTestRun
from sso.rollout import readiness
from sso.saml import actions as saml_actions
from sso.saml.config import sp_endpoints
from sso.saml.metadata import parse_idp_metadata
from sso.setup_links import actions
from tests.helpers.allowlist import HOME_IP, OFFICE, OFFICE_IP, enable
from tests.helpers.saml import connect, finish_in, post_to_acs
from tests.helpers.sso import link_identity
from tests.helpers.versions import form_version
from tests.sso.saml.idp import TestIdP, redirect_message


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture(scope="module")
def contoso_idp() -> TestIdP:
    """The customer's IdP, which the IdP admin connects through the link."""
    return TestIdP("https://idp.contoso.test/saml/metadata", host="idp.contoso.test")


@pytest.fixture
def connection(org, owner, test_idp) -> SSOConnection:
    return connect(org, owner, test_idp, status="off")


def make_link(connection, owner, **options) -> tuple[SSOSetupLink, str]:
    link, url = actions.create_link(connection, actor=owner, **options)
    return link, url.removeprefix("http://testserver").removeprefix(_base())


def _base() -> str:
    from django.conf import settings

    return settings.PUBLIC_BASE_URL


def open_in(browser: Client, path: str):
    """The IdP admin opens the link (GET: a start page) and starts the set-up in this browser (POST)."""
    landing = browser.get(path)
    assert landing.status_code == 200, landing.content[:500]
    assert "Start the set-up in this browser" in text(landing)
    return browser.post(path)


@pytest.fixture
def holder(connection, owner) -> tuple[Client, SSOSetupLink]:
    link, path = make_link(connection, owner, recipient="Jane, Contoso IT")
    browser = Client()
    response = open_in(browser, path)
    assert response.status_code == 302 and response["Location"] == "/sso/acme/setup/"
    return browser, link


# --- making, showing once, listing, revoking ----------------------------------------------------------------


def test_it_checks_access(connection, client_for, owner, admin, member, outsider):
    url = f"/orgs/acme/settings/security/sso/{connection.pk}/setup-links/new/"
    assert client_for(outsider).post(url, {"days": "7"}).status_code == 404
    assert client_for(member).post(url, {"days": "7"}).status_code == 403
    for person in (owner, admin):
        response = client_for(person).post(url, {"days": "3", "recipient": "Jane"})
        assert response.status_code == 302 and "/setup-links/" in response["Location"], response.content[:300]
    assert SSOSetupLink.objects.count() == 2
    link = SSOSetupLink.objects.first()
    revoke = f"/orgs/acme/settings/security/sso/setup-links/{link.pk}/revoke/"
    assert client_for(outsider).post(revoke).status_code == 404
    assert client_for(member).post(revoke).status_code == 403
    assert SSOSetupLink.objects.get(pk=link.pk).revoked_at is None
    created = f"/orgs/acme/settings/security/sso/setup-links/{link.pk}/created/not-a-ticket/"
    assert client_for(outsider).get(created).status_code == 404
    assert client_for(member).get(created).status_code == 403
    assert client_for(owner).get(created).status_code == 410  # nothing stashed under that ticket
    assert (
        client_for(outsider).get(f"/orgs/globex/settings/security/sso/setup-links/{link.pk}/created/x/").status_code
        == 404
    )


def test_the_link_is_shown_once_and_stored_as_a_keyed_hash(connection, client_for, owner):
    browser = client_for(owner)
    response = browser.post(
        f"/orgs/acme/settings/security/sso/{connection.pk}/setup-links/new/", {"days": "2", "recipient": "Jane"}
    )
    page = browser.get(response["Location"])
    assert page.status_code == 200 and page["Cache-Control"] == "no-store, private"
    url = re.search(r'value="([^"]+/sso/acme/setup/ossl_[^"]+)"', text(page)).group(1)
    assert "data-copy" in text(page) and "shown only this once" in text(page)
    token = url.rstrip("/").rsplit("/", 1)[1]
    link = SSOSetupLink.objects.get()
    assert link.token_hash == actions.hash_token(token) and token not in link.token_hash
    assert timedelta(days=2) - timedelta(minutes=1) < link.expires_at - link.created_at <= timedelta(days=2)
    again = browser.get(response["Location"])
    assert again.status_code == 410 and token not in text(again)
    event = AuditEvent.objects.get(action="sso.setup_link_created")
    assert event.actor_label == owner.email and token not in str(event.details)
    listing = text(browser.get("/orgs/acme/settings/security/sso/"))
    assert "IdP set-up link #" in listing and "not opened yet" in listing


def test_days_outside_one_to_seven_are_refused(connection, owner):
    for days in (0, 8):
        with pytest.raises(actions.ActionRefused):
            actions.create_link(connection, actor=owner, days=days)


def test_no_link_for_a_connection_already_on_for_everyone(org, owner, test_idp, client_for):
    connection = connect(org, owner, test_idp, status="on")
    response = client_for(owner).post(
        f"/orgs/acme/settings/security/sso/{connection.pk}/setup-links/new/", {"days": "7"}, follow=True
    )
    assert "changed by an owner or admin here, not through a set-up link" in text(response)
    assert not SSOSetupLink.objects.exists()


def test_an_admin_cannot_hand_out_the_idp_an_owner_signs_in_through(connection, admin, owner):
    link_identity(connection, owner, "owner-subject")
    with pytest.raises(actions.ActionRefused, match="only an owner can change which IdP"):
        actions.create_link(connection, actor=admin)


# --- opening: one browser, expiry, revocation -----------------------------------------------------------------


def test_opening_shows_our_details_and_binds_the_first_browser(holder, connection, member, sp):
    browser, link = holder
    page = browser.get("/sso/acme/setup/")
    assert page.status_code == 200
    body = text(page)
    assert sp.entity_id in body and sp.acs_url in body and sp.metadata_url in body
    assert "1. Give the IdP our details" in body or "1. Give your IdP our details" in body
    assert member.email not in body  # no members
    metadata = browser.get("/sso/acme/setup/metadata.xml")
    assert metadata.status_code == 200 and sp.acs_url in metadata.content.decode()
    link.refresh_from_db()
    assert link.browser_binding and link.opened_at is not None
    event = AuditEvent.objects.get(action="sso.setup_link_opened")
    assert event.actor_type == ActorType.SETUP_LINK and event.actor_id == str(link.pk)


def test_a_link_fetched_by_a_mail_scanner_is_not_taken(connection, owner):
    link, path = make_link(connection, owner)
    assert Client().get(path).status_code == 200  # a GET binds nothing
    link.refresh_from_db()
    assert link.browser_binding == ""


def test_another_browser_is_refused_clearly(holder, connection, owner):
    _browser, _link = holder
    other = Client()
    # The secret URL itself is refused in another browser...
    path = f"/sso/acme/setup/{'ossl_' + 'x' * 43}/"
    assert other.get(path).status_code == 404
    assert other.get("/sso/acme/setup/").status_code == 404  # ...and the set-up without the cookie
    _link2, path2 = make_link(connection, owner)
    first, second = Client(), Client()
    open_in(first, path2)
    refused = second.get(path2)
    assert refused.status_code == 403
    assert "already opened in another browser" in text(refused)
    assert second.post(path2).status_code == 403
    assert AuditEvent.objects.filter(action="sso.setup_link_refused", details__reason="other_browser").exists()


def test_a_copied_cookie_of_another_link_does_not_open_this_one(holder, connection, owner):
    browser, link = holder
    other_link, _ = make_link(connection, owner)
    cookie = browser.cookies["sso_setup"]
    forged = Client()
    forged.cookies["sso_setup"] = cookie.value.replace(f"{link.pk}:", f"{other_link.pk}:", 1)
    assert forged.get("/sso/acme/setup/").status_code == 404  # the signature no longer matches


def test_expired_and_revoked_links_are_refused(holder, connection, owner, client_for):
    browser, link = holder
    SSOSetupLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = browser.get("/sso/acme/setup/")
    assert refused.status_code == 410 and "expired" in text(refused)
    SSOSetupLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() + timedelta(days=1))
    assert browser.get("/sso/acme/setup/").status_code == 200
    owner_browser = client_for(owner)
    response = owner_browser.post(f"/orgs/acme/settings/security/sso/setup-links/{link.pk}/revoke/")
    assert response.status_code == 302
    refused = browser.get("/sso/acme/setup/")
    assert refused.status_code == 410 and "revoked" in text(refused)
    assert browser.post("/sso/acme/setup/test/").status_code == 410
    assert AuditEvent.objects.filter(action="sso.setup_link_revoked", actor_label=owner.email).exists()
    assert AuditEvent.objects.filter(action="sso.setup_link_refused", details__reason="revoked").exists()
    assert "revoked" in text(owner_browser.get(f"/orgs/acme/settings/security/sso/{connection.pk}/"))


def test_the_link_opens_nothing_of_another_organization(holder, other_org):
    browser, _link = holder
    assert browser.get("/sso/globex/setup/").status_code == 404


def test_the_ip_allowlist_applies(holder, org, owner):
    browser, _link = holder
    enable(org, owner, OFFICE)
    outside = Client(REMOTE_ADDR=HOME_IP)
    outside.cookies = browser.cookies
    refused = outside.get("/sso/acme/setup/")
    assert refused.status_code == 403 and HOME_IP in text(refused)
    inside = Client(REMOTE_ADDR=OFFICE_IP)
    inside.cookies = browser.cookies
    assert inside.get("/sso/acme/setup/").status_code == 200


# --- what the IdP admin does: metadata, test; and what they cannot do ----------------------------------------


def test_the_idp_admin_uploads_metadata_and_it_is_audited_as_the_link(holder, connection, contoso_idp):
    browser, link = holder
    response = browser.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()})
    assert response.status_code == 302, text(response)[:2000]
    saml = SAMLSettings.objects.get(connection=connection)
    assert saml.idp_entity_id == contoso_idp.entity_id
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.actor_type == ActorType.SETUP_LINK and event.actor_label.startswith(f"IdP set-up link #{link.pk}")
    assert "idp_entity_id" in event.changes


def test_bad_metadata_is_a_clear_400(holder):
    browser, _link = holder
    response = browser.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": "<not metadata"})
    assert response.status_code == 400


def test_the_idp_admin_test_passes_links_nobody_and_emails_the_owners(
    holder, connection, contoso_idp, owner, admin, client_for, django_capture_on_commit_callbacks
):
    browser, link = holder
    browser.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()})
    mail.outbox.clear()
    started = browser.post("/sso/acme/setup/test/")
    assert started.status_code == 302 and started["Location"].startswith(contoso_idp.sso_url)
    request_id = redirect_message(started["Location"])[1]["RelayState"][0]
    sp = sp_endpoints("acme")
    answered = contoso_idp.response(
        sp_entity_id=sp.entity_id,
        acs_url=sp.acs_url,
        name_id="jane@contoso.test",
        in_response_to=request_id,
        attributes={"mail": [admin.email]},  # even an answer asserting a member's email links nobody
    )
    acs = post_to_acs(answered)
    with django_capture_on_commit_callbacks(execute=True):
        with_run = finish_in(browser, acs)
    run = SSOTestRun.objects.get()
    assert with_run.status_code == 302 and with_run["Location"] == f"/sso/acme/setup/tests/{run.pk}/"
    result = text(browser.get(with_run["Location"]))
    assert "SSO test: Succeeded" in result and "jane@contoso.test" in result
    assert run.result == "success" and run.actor is None and run.setup_link_id == link.pk
    assert not SSOIdentity.objects.exists()
    assert "_auth_user_id" not in browser.session  # nobody signed in
    # The owners are emailed; the result is on the connection page; it does not count toward enforcement.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
    assert "passed" in mail.outbox[0].subject and "does not count toward enforcing" in mail.outbox[0].body
    page = text(client_for(owner).get(f"/orgs/acme/settings/security/sso/{connection.pk}/"))
    assert f"IdP set-up link #{link.pk}" in page and "does not count toward enforcement" in page
    assert not readiness.recent_admin_test(connection, actor=None, now=timezone.now())
    assert not readiness.recent_admin_test(connection, actor=owner, now=timezone.now())
    assert not SSOTestPlanItem.objects.exists()
    for action in ("sso.test_started", "sso.tested"):
        event = AuditEvent.objects.get(action=action)
        assert event.actor_type == ActorType.SETUP_LINK and event.actor_id == str(link.pk)
    link.refresh_from_db()
    assert link.test_passed_at is not None


def test_a_failing_test_is_shown_to_the_idp_admin_and_emails_nobody(
    holder, connection, test_idp, django_capture_on_commit_callbacks
):
    browser, _link = holder
    started = browser.post("/sso/acme/setup/test/")
    request_id = redirect_message(started["Location"])[1]["RelayState"][0]
    sp = sp_endpoints("acme")
    impostor = TestIdP("https://idp.acme.test/saml/metadata")  # same entity ID, another key
    answered = impostor.response(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="jane", in_response_to=request_id
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        acs = post_to_acs(answered)
    assert acs.status_code == 302
    result = browser.get(acs["Location"])
    assert "SSO test: Failed" in text(result)
    assert SSOTestRun.objects.get().result == "failure"
    event = AuditEvent.objects.get(action="sso.tested")
    assert event.actor_type == ActorType.SETUP_LINK and event.details["result"] == "failure"
    assert not mail.outbox


def test_the_link_sees_only_its_own_test_runs(holder, connection, owner):
    browser, _link = holder
    run = SSOTestRun.objects.create(connection=connection, actor=owner)
    assert browser.get(f"/sso/acme/setup/tests/{run.pk}/").status_code == 404


def test_the_link_can_never_enforce_turn_on_or_reach_organization_pages(holder, connection):
    browser, _link = holder
    base = f"/orgs/acme/settings/security/sso/{connection.pk}"
    for path, data in (
        (f"{base}/status/", {"status": "testing"}),
        (f"{base}/rollout/enforce/", {}),
        (f"{base}/test/", {}),
        ("/orgs/acme/settings/security/sso/link/", {}),
        ("/orgs/acme/members/", None),
    ):
        response = browser.post(path, data) if data is not None else browser.get(path)
        assert response.status_code in (302, 401, 403, 404), path
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), path
    connection.refresh_from_db()
    assert connection.status == "off"


def test_once_sso_is_on_the_link_changes_no_idp_details(holder, connection, owner, contoso_idp):
    browser, _link = holder
    from sso.connections import actions as sso_actions

    sso_actions.set_status(connection, actor=owner, status="testing")
    sso_actions.set_status(connection, actor=owner, status="on")
    response = browser.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()})
    # Refused: sent back to the IdP step of the set-up page, which says why (post/redirect/get).
    assert response.status_code == 302 and response["Location"] == "/sso/acme/setup/#step-idp"
    assert "not through a set-up link" in text(browser.get(response["Location"]))
    assert SAMLSettings.objects.get(connection=connection).idp_entity_id != contoso_idp.entity_id
    json_client = browser.post(
        "/sso/acme/setup/saml/",
        {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()},
        headers={"accept": "application/json"},
    )
    assert json_client.status_code == 409


def test_a_link_whose_maker_left_changes_nothing(holder, connection, admin, owner, contoso_idp):
    browser, link = holder
    SSOSetupLink.objects.filter(pk=link.pk).update(created_by=admin)
    from orgsecurity.models import Membership

    Membership.objects.filter(user=admin).update(role="member")
    response = browser.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()})
    assert response.status_code == 302 and response["Location"] == "/sso/acme/setup/#step-idp"
    assert "no longer manages" in text(browser.get(response["Location"]))
    assert SAMLSettings.objects.get(connection=connection).idp_entity_id != contoso_idp.entity_id


def test_the_idp_admin_chooses_their_idp_for_the_attribute_names(holder, connection):
    browser, _link = holder
    assert "Which IdP do you use?" in text(browser.get("/sso/acme/setup/"))
    response = browser.post("/sso/acme/setup/saml/preset/", {"preset": "okta"})
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.attribute_map["first_name"] == "firstName"
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.actor_type == ActorType.SETUP_LINK and "attribute_map" in event.changes
    assert browser.post("/sso/acme/setup/saml/preset/", {"preset": "custom"}).status_code == 400


def test_an_owner_without_the_idps_details_makes_the_connection_and_a_link(
    org, owner, client_for, contoso_idp, django_capture_on_commit_callbacks
):
    browser = client_for(owner)
    assert "Let your IdP admin set the connection up" in text(browser.get("/orgs/acme/settings/security/sso/"))
    response = browser.post(
        "/orgs/acme/settings/security/sso/setup-links/new/",
        {"protocol": "saml", "name": "Contoso", "recipient": "Jane", "days": "5"},
    )
    assert response.status_code == 302
    url = re.search(r'value="([^"]+/sso/acme/setup/ossl_[^"]+)"', text(browser.get(response["Location"]))).group(1)
    connection = SSOConnection.objects.get(name="Contoso")
    assert connection.protocol == "saml" and connection.status == "off"
    assert not SAMLSettings.objects.filter(connection=connection).exists()
    page = text(browser.get(f"/orgs/acme/settings/security/sso/{connection.pk}/"))
    assert "This connection has no IdP yet" in page

    holder = Client()
    open_in(holder, url.removeprefix(_base()))
    page = text(holder.get("/sso/acme/setup/"))
    assert sp_endpoints("acme").acs_url in page and "once your IdP's details are" in page
    assert holder.get("/sso/acme/setup/metadata.xml").status_code == 409
    saved = holder.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()})
    assert saved.status_code == 302
    saml = SAMLSettings.objects.get(connection=connection)
    assert saml.idp_entity_id == contoso_idp.entity_id and saml.sp_certificate
    assert holder.get("/sso/acme/setup/metadata.xml").status_code == 200
    event = AuditEvent.objects.filter(action="sso.connection_updated").latest("seq")
    assert event.actor_type == ActorType.SETUP_LINK and "sp_certificate" in event.details

    started = holder.post("/sso/acme/setup/test/")
    request_id = redirect_message(started["Location"])[1]["RelayState"][0]
    sp = sp_endpoints("acme")
    answered = contoso_idp.response(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="jane", in_response_to=request_id
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = finish_in(holder, post_to_acs(answered))
    assert "SSO test: Succeeded" in text(holder.get(result["Location"]))


def test_the_owner_gives_the_first_idp_details_on_the_connection_page(org, owner, client_for, contoso_idp):
    from sso.connections import actions as sso_actions

    connection = sso_actions.create_connection(org, actor=owner, protocol="saml", name="Later")
    response = client_for(owner).post(
        f"/orgs/acme/settings/security/sso/saml/{connection.pk}/idp/",
        {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()},
    )
    assert response.status_code == 302
    assert SAMLSettings.objects.get(connection=connection).idp_entity_id == contoso_idp.entity_id


def test_support_sees_the_usable_links_read_only(holder, org):
    from sso import support

    _browser, link = holder
    rows = dict(support.settings_rows(org))
    assert rows["IdP set-up links usable now"].startswith(f"IdP set-up link #{link.pk} (Jane, Contoso IT): open")


# --- a link whose maker no longer manages the organization ------------------------------------------------------
# Every action through it (IdP details, preset, starting or completing a test sign-in) is refused with "no longer
# manages" (403; the forms send the browser back to the set-up page, which says so) and changes nothing. From the
# attack run (the preset and the test start skipped the check).


GONE = {
    "demoted": lambda admin, owner: Membership.objects.filter(user=admin).update(role="member"),
    "suspended": lambda admin, owner: Membership.objects.filter(user=admin).update(suspended_at="2026-01-01T00:00:00Z"),
    "removed": lambda admin, owner: org_actions.remove_member(Membership.objects.get(user=admin), actor=owner),
}


@pytest.fixture(params=sorted(GONE))
def maker_gone(request, holder, admin, owner):
    """The link's maker is an admin who then stops managing the organization (demoted, suspended or removed)."""
    browser, link = holder
    SSOSetupLink.objects.filter(pk=link.pk).update(created_by=admin)
    GONE[request.param](admin, owner)
    return browser, link


def test_the_preset_changes_nothing(maker_gone, connection):
    browser, _link = maker_gone
    before = dict(connection.attribute_map)
    response = browser.post("/sso/acme/setup/saml/preset/", {"preset": "okta"})
    assert response.status_code == 302 and response["Location"] == "/sso/acme/setup/#step-sp"
    assert "no longer manages" in text(browser.get(response["Location"]))
    connection.refresh_from_db()
    assert connection.attribute_map == before


def test_no_test_sign_in_starts(maker_gone):
    browser, _link = maker_gone
    response = browser.post("/sso/acme/setup/test/")
    assert response.status_code == 403
    assert "no longer manages" in text(response)
    assert not SSOTestRun.objects.exists()


def test_the_idp_details_stay(maker_gone, connection, contoso_idp):
    browser, _link = maker_gone
    response = browser.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()})
    assert response.status_code == 302 and response["Location"] == "/sso/acme/setup/#step-idp"
    assert "no longer manages" in text(browser.get(response["Location"]))
    assert SAMLSettings.objects.get(connection=connection).idp_entity_id != contoso_idp.entity_id


@pytest.mark.parametrize(
    "call",
    [
        lambda link: actions.update_saml_idp(link, idp=None, source="xml", metadata_url=None),
        lambda link: actions.update_oidc(link, metadata=None, client_id="x"),
        lambda link: actions.choose_saml_preset(link, "okta"),
        lambda link: actions.start_test_run(link),
    ],
    ids=["saml_idp", "oidc", "preset", "test_run"],
)
def test_every_link_action_refuses(maker_gone, call):
    _browser, link = maker_gone
    with pytest.raises(ActionRefused) as refused:
        call(link)
    assert refused.value.code == "maker_gone" and refused.value.status == 403


def test_a_test_started_before_the_maker_left_does_not_pass(
    holder, connection, contoso_idp, admin, owner, django_capture_on_commit_callbacks
):
    browser, link = holder
    SSOSetupLink.objects.filter(pk=link.pk).update(created_by=admin)
    browser.post("/sso/acme/setup/saml/", {"source": "xml", "metadata_xml": contoso_idp.metadata_xml()})
    started = browser.post("/sso/acme/setup/test/")
    assert started.status_code == 302
    request_id = redirect_message(started["Location"])[1]["RelayState"][0]
    Membership.objects.filter(user=admin).update(role="member")
    sp = sp_endpoints("acme")
    answered = contoso_idp.response(
        sp_entity_id=sp.entity_id, acs_url=sp.acs_url, name_id="jane", in_response_to=request_id
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        finish_in(browser, post_to_acs(answered))
    assert SSOTestRun.objects.get().result == "failure"
    link.refresh_from_db()
    assert link.test_passed_at is None and not mail.outbox


def test_an_admins_link_still_works_while_they_manage(holder, connection, admin):
    browser, link = holder
    SSOSetupLink.objects.filter(pk=link.pk).update(created_by=admin)
    assert browser.post("/sso/acme/setup/saml/preset/", {"preset": "okta"}).status_code == 302
    connection.refresh_from_db()
    assert connection.attribute_map["first_name"] == "firstName"
    assert browser.post("/sso/acme/setup/test/").status_code == 302


def test_idp_details_saved_over_an_admins_change_are_refused(holder, connection, owner, contoso_idp, test_idp):
    """The set-up page's forms carry the version they were loaded at (issue 20): the organization's admin changing
    the IdP meanwhile makes the IdP admin's save refused, saying what changed, and the page shows the saved details."""
    browser, _link = holder
    page = browser.get("/sso/acme/setup/").content.decode()
    version = form_version(page, "/sso/acme/setup/saml/")
    moved = TestIdP("https://idp.moved.test/saml/metadata", host="idp.moved.test")
    saml_actions.configure_idp(connection, actor=owner, idp=parse_idp_metadata(moved.metadata_xml()), source="xml")
    stale = browser.post(
        "/sso/acme/setup/saml/",
        {"source": "xml", "metadata_xml": contoso_idp.metadata_xml(), "loaded_version": version},
    )
    assert stale.status_code == 302 and stale["Location"] == "/sso/acme/setup/#step-idp"
    shown = text(browser.get("/sso/acme/setup/"))
    assert "changed since you opened this page" in shown
    assert f"IdP entity ID: {test_idp.entity_id} → {moved.entity_id}" in shown
    assert SAMLSettings.objects.get(connection=connection).idp_entity_id == moved.entity_id
    again = browser.post(
        "/sso/acme/setup/saml/",
        {
            "source": "xml",
            "metadata_xml": contoso_idp.metadata_xml(),
            "loaded_version": form_version(browser.get("/sso/acme/setup/").content.decode(), "/sso/acme/setup/saml/"),
        },
    )
    assert again.status_code == 302
    assert SAMLSettings.objects.get(connection=connection).idp_entity_id == contoso_idp.entity_id
