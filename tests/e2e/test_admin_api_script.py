"""Issue 22's "Done when", end to end: a script holding a service account's ``security:write`` key configures SAML
from SimpleSAMLphp's metadata URL over the admin API, starts a test run, and a person (the organization's owner,
signed in to the dashboard in Chromium) opens the URL the run answered with and signs in at the IdP; the script
reads the passed result, adds allowlist entries, rotates another key and reads the audit trail. Then the dashboard
shows every change, and the audit log names the script's key (its prefix) as their actor.

An organization of its own (the demo org acme and the other browser tests are left alone). The script's calls are
plain HTTPS requests to the live server (``ProductServer.request``); SSO fetches the IdP's metadata from 127.0.0.1
because the browser-test product runs with ``SSO_METADATA_ALLOW_PRIVATE_HOSTS`` (harness.DEFAULT_PRODUCT_ENV), as
every other SSO browser test does: production refuses private addresses.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import ProductServer
from tests.e2e.harness import sign_in_with_password as sign_in
from tests.e2e.saml_steps import idp_sign_in

pytestmark = pytest.mark.e2e

PASSWORD = "api-script-product-password-" + secrets.token_hex(4)


@dataclass(frozen=True)
class ScriptOrg:
    slug: str
    owner: str
    token: str  # the service account "terraform"'s key: security:read, security:write, audit:read
    prefix: str
    ci_key_id: int  # another key of the service account, for the script to rotate


@pytest.fixture
def script_org(product: ProductServer) -> ScriptOrg:
    """A new organization whose owner turned on "allow security changes through the API" and gave the service
    account "terraform" a key with write scopes (both through the product's actions, as the pages do)."""
    slug = f"api{secrets.token_hex(3)}"
    owner = f"owner@{slug}.test"
    product.manage(
        "createorg", slug, "--name", "API Script Corp", "--owner", owner, "--password-from-env", "PW",
        env={"PW": PASSWORD},
    )  # fmt: skip
    printed = product.shell(
        "import json\n"
        "from keys import actions\n"
        "from orgsecurity.models import Organization, User\n"
        f"org = Organization.objects.get(slug={slug!r})\n"
        f"owner = User.objects.get(email={owner!r})\n"
        "actions.set_api_security_changes(org, actor=owner, allowed=True)\n"
        "account = actions.create_service_account(org, actor=owner, name='terraform')\n"
        "key, token = actions.create_api_key(org, actor=owner, name='terraform', service_account=account,\n"
        "    permission='read_write', scopes=['security:read', 'security:write', 'audit:read'])\n"
        "ci, _ = actions.create_api_key(org, actor=owner, name='ci deploys', service_account=account)\n"
        "print(json.dumps({'token': token, 'prefix': key.prefix, 'ci': ci.pk}))\n"
    )
    created = json.loads(printed.strip().splitlines()[-1])
    return ScriptOrg(slug, owner, created["token"], created["prefix"], created["ci"])


class Script:
    """The customer's script: JSON over HTTPS to the live server with ``Authorization: Bearer <key>``."""

    def __init__(self, product: ProductServer, token: str) -> None:
        self.product, self.token = product, token

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, dict[str, str], Any]:
        sent = {"Authorization": f"Bearer {self.token}", "Accept": "application/json", **headers}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        result = self.product.request(method, f"/api/v1{path}", body=data, headers=sent, timeout=30)
        return result.status, result.headers, json.loads(result.body) if result.body else None


def test_a_script_configures_and_tests_saml_then_changes_the_allowlist_and_a_key(
    new_context, product, saml_idp, script_org
):
    org = script_org
    script = Script(product, org.token)
    base = f"/orgs/{org.slug}"

    # 1. SAML from the IdP's metadata URL (our server fetches it), the owner as the connection's admin owner.
    body = {
        "protocol": "saml",
        "name": "SimpleSAMLphp via API",
        "metadata_url": saml_idp.metadata_url,
        "preset": "ldap",
        "admin_owner": org.owner,
    }
    status, _, connection = script.call("POST", f"{base}/sso/connections", body, **{"Idempotency-Key": "saml-1"})
    assert status == 201, connection
    assert connection["saml"]["idp_entity_id"] == saml_idp.entity_id
    # The IdP admin imports our SP metadata in return (what the connection page tells them to do).
    metadata = product.request("GET", f"/sso/{org.slug}/saml/metadata/")
    assert metadata.status == 200, metadata.status
    saml_idp.register_sp(metadata_xml=metadata.body)

    # 2. A test run: the script gets the URL, a person opens it and signs in at the IdP.
    status, _, run = script.call("POST", f"{base}/sso/connections/{connection['id']}/tests", {})
    assert status == 201 and run["state"] == "waiting_for_tester", run
    assert run["open_url"].startswith(product.base_url)
    person = new_context().pages[0]
    sign_in(person, product, org.owner, PASSWORD)
    person.goto(run["open_url"])
    person.get_by_role("button", name="Continue to the IdP").click()
    idp_user = saml_idp.user("owner")
    idp_sign_in(person, saml_idp, idp_user.username, idp_user.password)
    expect(person.get_by_role("heading", level=1)).to_have_text("SSO test: Succeeded")

    # The result page shows what was stored before the browser was sent to it.
    _, _, result = script.call("GET", f"{base}/sso/connections/{connection['id']}/tests/{run['id']}")
    assert result["state"] == "passed", result
    assert result["tester"] == org.owner and result["subject"] == idp_user.uid
    assert idp_user.email in json.dumps(result["attributes"]) and result["mapped"]["email"] == idp_user.email

    # 3. Allowlist entries, a key rotation, the audit trail.
    text = "203.0.113.0/24 # office\n198.51.100.7 # ci runner\n"
    status, _, added = script.call("POST", f"{base}/allowlist/entries/bulk", {"text": text})
    assert status == 201 and len(added["added"]) == 2, added
    status, _, rotated = script.call("POST", f"{base}/keys/{org.ci_key_id}/rotate", {"overlap_seconds": 0})
    assert status == 200 and rotated["token"].startswith("osk_"), rotated
    status, _, trail = script.call("GET", f"{base}/audit/events?limit=50")
    assert status == 200, trail
    by_key = {event["action"] for event in trail["events"] if org.prefix in event["actor"]["label"]}
    expected = {
        "sso.connection_created",
        "sso.test_started",
        "allowlist.entries_added",
        "key.rotated",
    }
    assert expected <= by_key, by_key

    # 4. The dashboard shows it all, and its audit log names the key.
    person.goto(product.url(f"{base}/settings/security/sso/{connection['id']}/"))
    main = person.locator("main")
    expect(main).to_contain_text("SimpleSAMLphp via API")
    expect(main).to_contain_text(saml_idp.entity_id)
    expect(main).to_contain_text("Succeeded")
    person.goto(product.url(f"{base}/settings/security/allowlist/"))
    expect(person.locator("main")).to_contain_text("203.0.113.0/24")
    expect(person.locator("main")).to_contain_text("198.51.100.7")
    person.goto(product.url(f"{base}/settings/security/keys/"))
    expect(person.locator("main")).to_contain_text("ci deploys")
    expect(person.locator("main")).to_contain_text(rotated["key"]["prefix"])
    person.goto(product.url(f"{base}/audit/"))
    log = person.locator("main")
    expect(log).to_contain_text(f"API key {org.prefix}")
    expect(log).to_contain_text("SimpleSAMLphp via API")
