"""SCIM deprovisioning as a person notices it: the IdP deactivates someone, and their open browser session is
signed out of the organization on its next page load while their API key gets 401 (issue 16)."""

from __future__ import annotations

import json
import re
import secrets

import pytest

from tests.e2e.harness import sign_in_with_password as sign_in

pytestmark = pytest.mark.e2e

SCIM_TYPE = "application/scim+json"


def _setup(product, email: str, password: str) -> tuple[str, str]:
    """The person (an admin of acme with a password), acme.test verified, an SSO connection for the provisioning
    IdP, a SCIM token (through ``manage.py scim_token``) and the person's API key: (SCIM token, API key)."""
    product.create_user(email, password, org="acme", role="admin")
    output = product.shell(
        "from audit.recorder import Actor\n"
        "from keys.actions import create_api_key\n"
        "from orgsecurity.models import Organization, User\n"
        "from sso.connections.actions import create_connection\n"
        "from sso.domains import verification\n"
        "from sso.models import SSOConnection, VerifiedDomain\n"
        "org = Organization.objects.get(slug='acme')\n"
        "owner = User.objects.get(email='owner@acme.test')\n"
        "if not VerifiedDomain.objects.filter(domain='acme.test', verified_at__isnull=False).exists():\n"
        "    staff = User.objects.filter(is_staff=True).first() or User.objects.create_user('e2e-staff@platform.test',"
        " None, is_staff=True)\n"
        "    claimed = VerifiedDomain.objects.filter(organization=org, domain='acme.test').first() or "
        "verification.claim(org, actor=owner, domain='acme.test')\n"
        "    verification.verify_by_support(claimed, staff=staff, note='e2e')\n"
        "connection = SSOConnection.objects.filter(organization=org).first() or "
        "create_connection(org, actor=owner, protocol='saml', name='Provisioning IdP')\n"
        f"_, key = create_api_key(org, actor=User.objects.get(email={email!r}), name='laptop')\n"
        "print('CONNECTION', connection.pk)\n"
        "print('KEY', key)\n"
    )
    connection_id = re.search(r"CONNECTION (\d+)", output).group(1)
    api_key = re.search(r"KEY (osk_\w+)", output).group(1)
    created = product.manage("scim_token", "acme", "--name", "e2e", "--connection", connection_id).stdout
    scim_token = re.search(r"scim_[0-9A-Za-z]{48}", created).group(0)
    return scim_token, api_key


def _scim(product, token: str, method: str, path: str, body: dict | None = None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": SCIM_TYPE, "Accept": SCIM_TYPE}
    return product.request(
        method, f"/scim/v2/acme/{path}", body=json.dumps(body).encode() if body else None, headers=headers
    )


def test_a_deprovisioned_person_is_signed_out_and_their_key_refused(page, product):
    email = f"leaver-{secrets.token_hex(4)}@acme.test"
    password = "a-long-enough-password-" + secrets.token_hex(4)
    scim_token, api_key = _setup(product, email, password)

    sign_in(page, product, email, password)
    assert page.goto(product.url("/orgs/acme/")).status == 200
    whoami = product.request("GET", "/api/v1/whoami", headers={"Authorization": f"Bearer {api_key}"})
    assert whoami.status == 200

    # userName is the email (as Okta sends it); no emails value, since email-validator (behind scim2-models)
    # refuses the special-use .test domain of the demo organization in an emails value.
    created = _scim(
        product,
        scim_token,
        "POST",
        "Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "externalId": "00u-" + secrets.token_hex(4),
            "active": True,
        },
    )
    assert created.status == 201, created.text
    scim_id = json.loads(created.text)["id"]
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    deactivated = _scim(product, scim_token, "PATCH", f"Users/{scim_id}", patch)
    assert deactivated.status == 200, deactivated.text

    response = page.goto(product.url("/orgs/acme/"))
    assert response.status == 401
    assert "was ended by its identity provider" in page.inner_text("main")
    assert "Sign in again" in page.inner_text("main")
    whoami = product.request("GET", "/api/v1/whoami", headers={"Authorization": f"Bearer {api_key}"})
    assert whoami.status == 401
