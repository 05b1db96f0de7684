"""Per connection "Require MFA at the IdP": an SSO answer must show multi-factor authentication (OIDC amr/acr, SAML
AuthnContextClassRef, or a named attribute such as Entra's authnmethodsreferences), else a clear refusal page."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditEvent
from sso.assertion import ENTRA_MFA_ATTRIBUTE, ENTRA_MFA_VALUE, AssertedIdentity, mfa_satisfied
from sso.connections import actions
from sso.connections.forms import ConnectionSettingsForm
from tests.helpers.sso import link_identity, refusal_text

TWO_FACTOR_CONTRACT = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"


def identity(**fields) -> AssertedIdentity:
    return AssertedIdentity(issuer="https://idp.test", subject="s", subject_format="oidc", **fields)


def test_mfa_evidence_from_oidc_amr_acr_saml_context_or_a_named_attribute():
    assert mfa_satisfied(identity(attributes={"amr": ["pwd", "mfa"]}), accepted=["mfa"])
    assert mfa_satisfied(identity(attributes={"acr": ["phr"]}), accepted=["phr"])
    assert mfa_satisfied(identity(authn_contexts=(TWO_FACTOR_CONTRACT,)), accepted=[TWO_FACTOR_CONTRACT])
    entra = identity(attributes={ENTRA_MFA_ATTRIBUTE: [ENTRA_MFA_VALUE]})
    assert mfa_satisfied(entra, accepted=[ENTRA_MFA_VALUE], attribute=ENTRA_MFA_ATTRIBUTE)
    assert not mfa_satisfied(entra, accepted=[ENTRA_MFA_VALUE])  # the attribute must be named
    assert not mfa_satisfied(identity(attributes={"amr": ["pwd"]}), accepted=["mfa"])
    assert not mfa_satisfied(identity(attributes={"amr": ["MFA"]}), accepted=["mfa"])


def test_the_assertion_round_trips_its_authn_contexts():
    original = identity(authn_contexts=(TWO_FACTOR_CONTRACT,))
    assert AssertedIdentity.from_dict(original.to_dict()) == original


def test_the_entra_preset_fills_in_the_attribute_and_value(org, owner, connection):
    data = {**ConnectionSettingsForm.initial_for(connection), "admin_owner": owner.pk}
    data.update(require_idp_mfa="on", idp_mfa_preset="entra", idp_mfa_values="")
    form = ConnectionSettingsForm(data, organization=org)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["idp_mfa_attribute"] == ENTRA_MFA_ATTRIBUTE
    assert form.cleaned_data["idp_mfa_values"] == [ENTRA_MFA_VALUE]
    assert "idp_mfa_preset" not in form.cleaned_data


def test_requiring_mfa_without_values_is_refused_by_the_form(org, owner, connection):
    data = {**ConnectionSettingsForm.initial_for(connection), "admin_owner": owner.pk, "require_idp_mfa": "on"}
    form = ConnectionSettingsForm(data, organization=org)
    assert not form.is_valid()
    assert "at least one value" in str(form.errors)


def sign_in(idp, **answer) -> tuple[Client, object]:
    browser = Client()
    browser.get("/sso/acme/login/")
    return browser, browser.get(idp.answer("mia-123", **answer))


def test_a_sign_in_without_mfa_is_refused_with_a_clear_page(org, owner, member, connection, idp):
    link_identity(connection, member, "mia-123")
    actions.update_connection(
        connection,
        actor=owner,
        require_idp_mfa=True,
        idp_mfa_attribute=ENTRA_MFA_ATTRIBUTE,
        idp_mfa_values=[ENTRA_MFA_VALUE],
    )
    browser, response = sign_in(idp)
    assert response.status_code == 403
    assert "sent an answer we could not accept" in response.content.decode()  # the member's plain words
    assert "requires multi-factor authentication at your identity provider" in refusal_text(response)  # for admins
    assert "ask your IdP administrator to require MFA" not in response.content.decode()
    assert browser.get("/orgs/acme/").status_code == 302
    assert AuditEvent.objects.filter(details__reason="idp_mfa_missing", organization=org).exists()


def test_a_sign_in_with_the_listed_value_goes_through(org, owner, member, connection, idp):
    link_identity(connection, member, "mia-123")
    actions.update_connection(
        connection,
        actor=owner,
        require_idp_mfa=True,
        idp_mfa_attribute=ENTRA_MFA_ATTRIBUTE,
        idp_mfa_values=[ENTRA_MFA_VALUE],
    )
    browser, response = sign_in(idp, attributes={ENTRA_MFA_ATTRIBUTE: [ENTRA_MFA_VALUE]})
    assert response.status_code == 302
    assert browser.get("/orgs/acme/").status_code == 200


def test_saml_authn_context_class_ref_satisfies_it(org, owner, member, connection, idp):
    link_identity(connection, member, "mia-123")
    actions.update_connection(connection, actor=owner, require_idp_mfa=True, idp_mfa_values=[TWO_FACTOR_CONTRACT])
    _, refused = sign_in(idp, authn_contexts=("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",))
    assert refused.status_code == 403
    _, accepted = sign_in(idp, authn_contexts=(TWO_FACTOR_CONTRACT,))
    assert accepted.status_code == 302


def test_off_by_default(org, member, connection, idp):
    link_identity(connection, member, "mia-123")
    _, response = sign_in(idp)
    assert response.status_code == 302
