"""App config of SCIM 2.0 provisioning (issue 16): audit events, the SSO sign-in link by externalId, the SSO page
section and the members page marker, all plugged in through the other apps' registries."""

from django.apps import AppConfig
from django.conf import settings


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM provisioning"

    def ready(self) -> None:
        from orgsecurity.actions import register_membership_preview
        from orgsecurity.directory import register_member_annotations
        from scim import audit_events, checks  # noqa: F401  (register audit events and the settings check)
        from scim.directory import member_annotations, preview_managed
        from scim.linking import provisioned_user
        from scim.org_views import sso_section
        from sso.sections import register_index_section
        from sso.signin.provisioned import register_provisioned_account_resolver

        # A first SSO sign-in whose subject (or Entra object id) is a SCIM user's externalId links to that user.
        register_provisioned_account_resolver(provisioned_user)
        register_index_section(sso_section)  # "Provisioning (SCIM)" on the SSO settings page
        register_member_annotations(member_annotations)  # "managed by SCIM" on the members page
        register_membership_preview(preview_managed)  # manual edits of SCIM-managed members warn
        if settings.DEBUG:
            allow_test_domain_emails()


def allow_test_domain_emails() -> None:
    """Let the ``emails`` of SCIM users be at ``*.test`` (``make run``'s demo domain acme.test). email-validator,
    behind scim2-models' ``EmailStr``, refuses the special-use domains of RFC 6761, so without this an IdP-shaped
    request for jane@acme.test gets 400 on the development server. Only under DEBUG: no production organization can
    verify a ``.test`` domain by DNS, and which domains may be provisioned is decided by the organization's
    verified domains anyway (``scim.provisioning``)."""
    import email_validator

    email_validator.SPECIAL_USE_DOMAIN_NAMES = [
        name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name != "test"
    ]
