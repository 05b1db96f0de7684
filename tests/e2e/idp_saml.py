"""A real SAML 2.0 IdP for the browser tests and ``make idp``: Debian's SimpleSAMLphp 1.19 under ``php -S``.

The configuration is the static PHP in ``tests/e2e/simplesamlphp/`` (``SIMPLESAMLPHP_CONFIG_DIR`` points at its
``config/``); what varies per run (URLs, signing key, users, trusted SPs) is a JSON state file this module writes
and names in ``E2E_SIMPLESAMLPHP_STATE``. SPs registered while the IdP runs are trusted from the next request on.

Debian packages: ``simplesamlphp php-cli php-xml php-mbstring``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

from tests.e2e.harness import E2E_DIR, KeyPair, ManagedProcess, ToolMissing, child_environment, free_port, http_ok
from tests.e2e.harness import make_self_signed_certificate as _make_certificate

SIMPLESAMLPHP_WWW = Path("/usr/share/simplesamlphp/www")
CONFIG_DIR = E2E_DIR / "simplesamlphp" / "config"
NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
AUTH_SOURCE = "example-userpass"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"

# Claim URIs as Entra ID (Azure AD) sends them, so an "Entra ID" attribute preset finds its attributes too.
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS_CLAIMS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"


@dataclass(frozen=True)
class SAMLUser:
    """A person the IdP knows: signs in with ``username``/``password`` (exampleauth:UserPass).

    ``uid`` is a stable opaque identifier and the value of the persistent NameID (SAML Core §8.3.7); the
    emailAddress NameID (§8.3.2) is ``email``. ``attributes()`` is what the assertion's AttributeStatement carries.
    """

    username: str
    password: str
    email: str
    name: str
    given_name: str
    family_name: str
    uid: str
    groups: tuple[str, ...] = ()
    extra_attributes: dict[str, list[str]] = field(default_factory=dict)

    def attributes(self) -> dict[str, list[str]]:
        """Attribute name -> values: plain names (``mail``, ``displayName``, ...) and Entra-style claim URIs."""
        attributes = {
            "uid": [self.uid],
            "mail": [self.email],
            "email": [self.email],
            "displayName": [self.name],
            "givenName": [self.given_name],
            "sn": [self.family_name],
            "groups": list(self.groups),
            CLAIMS + "emailaddress": [self.email],
            CLAIMS + "givenname": [self.given_name],
            CLAIMS + "surname": [self.family_name],
            "http://schemas.microsoft.com/identity/claims/displayname": [self.name],
            MS_CLAIMS + "groups": list(self.groups),
        }
        attributes.update(self.extra_attributes)
        return {name: values for name, values in attributes.items() if values}


# The demo org's people (seed_demo) as the IdP knows them, plus one the product has never seen (JIT cases).
DEFAULT_USERS: tuple[SAMLUser, ...] = (
    SAMLUser(
        "owner", "owner-idp-pass", "owner@acme.test", "Olivia Owner", "Olivia", "Owner",
        "idp-0001-olivia", ("acme-admins", "acme-staff"),
    ),
    SAMLUser(
        "admin", "admin-idp-pass", "admin@acme.test", "Adam Admin", "Adam", "Admin",
        "idp-0002-adam", ("acme-admins", "acme-staff"),
    ),
    SAMLUser(
        "member", "member-idp-pass", "member@acme.test", "Mia Member", "Mia", "Member",
        "idp-0003-mia", ("acme-staff",),
    ),
    SAMLUser(
        "newhire", "newhire-idp-pass", "newhire@acme.test", "Nina Newhire", "Nina", "Newhire",
        "idp-0004-nina", ("acme-staff",),
    ),
)  # fmt: skip


def sp_urls(base_url: str, org_slug: str) -> dict[str, str]:
    """The product's SP endpoints for one organization, by the URL conventions of README "Public URLs".

    Returns ``entity_id`` (= the SP metadata URL), ``acs_url`` (HTTP-POST) and ``slo_url`` under
    ``base_url`` (the product's PUBLIC_BASE_URL, e.g. ``https://app.test:8701``).
    """
    root = f"{base_url.rstrip('/')}/sso/{org_slug}/saml"
    return {"entity_id": f"{root}/metadata/", "acs_url": f"{root}/acs/", "slo_url": f"{root}/sls/"}


def require_simplesamlphp() -> None:
    """Raise ToolMissing unless php (with the xml, dom and mbstring extensions) and SimpleSAMLphp are installed."""
    install = "apt-get install simplesamlphp php-cli php-xml php-mbstring"
    php = shutil.which("php")
    if php is None:
        raise ToolMissing(f"php is missing: `{install}`.")
    if not (SIMPLESAMLPHP_WWW / "saml2" / "idp" / "SSOService.php").is_file():
        raise ToolMissing(f"SimpleSAMLphp is missing ({SIMPLESAMLPHP_WWW}): `{install}`.")
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, check=False).stdout.lower().split()
    missing = [name for name in ("dom", "xml", "mbstring", "openssl") if name not in modules]
    if missing:
        raise ToolMissing(f"PHP lacks the {', '.join(missing)} extension(s) SimpleSAMLphp needs: `{install}`.")


class SimpleSAMLphpIdP:
    """SimpleSAMLphp as a SAML 2.0 IdP on ``http://127.0.0.1:<port>``.

    ``workdir`` holds the state file, signing key pair (``idp-signing.key``/``.crt``, RSA-2048, self-signed,
    made once and kept across restarts), PHP sessions and the server log. The IdP signs assertions with
    RSA-SHA256, offers persistent (the user's ``uid``) and emailAddress NameIDs, and authenticates ``users``.

    Entity ID and metadata URL: ``http://127.0.0.1:<port>/saml2/idp/metadata.php``.
    """

    def __init__(
        self,
        workdir: Path,
        port: int = 0,
        users: tuple[SAMLUser, ...] = DEFAULT_USERS,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port(host)
        self.host = host
        self.users = users
        self.admin_password = secrets.token_urlsafe(12)
        self.service_providers: list[dict] = []
        self.process: ManagedProcess | None = None
        self.signing: KeyPair = self._signing_key_pair()
        self._write_state()

    # --- What an SP admin pastes, and what tests type ---------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/saml2/idp/metadata.php"

    @property
    def metadata_url(self) -> str:
        """Where the IdP's SAML metadata XML is served (SAML Metadata §4.1 well-known location style)."""
        return f"{self.base_url}/saml2/idp/metadata.php"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/saml2/idp/SSOService.php"

    @property
    def slo_url(self) -> str:
        return f"{self.base_url}/saml2/idp/SingleLogoutService.php"

    @property
    def test_page_url(self) -> str:
        """SimpleSAMLphp's own "test authentication source" page for the test users' source."""
        return f"{self.base_url}/module.php/core/authenticate.php?as={AUTH_SOURCE}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "simplesamlphp.log"

    def user(self, username: str) -> SAMLUser:
        """The test user called ``username``; KeyError when there is none."""
        for user in self.users:
            if user.username == username:
                return user
        raise KeyError(username)

    def add_users(self, *users: SAMLUser) -> None:
        """Let ``users`` sign in too (e.g. the people of a scenario's own organization); one with the username of a
        known user replaces it. Takes effect on the IdP's next request (no restart) and lasts for this IdP."""
        added = {user.username for user in users}
        self.users = tuple(user for user in self.users if user.username not in added) + tuple(users)
        self._write_state()

    # --- Trusting SPs -----------------------------------------------------------------------------------

    def register_sp(
        self,
        entity_id: str | None = None,
        acs_url: str | None = None,
        slo_url: str | None = None,
        *,
        metadata_xml: str | bytes | None = None,
        **options: object,
    ) -> None:
        """Trust an SP: give its ``metadata_xml`` (SAML 2.0 SP metadata), or ``entity_id`` + ``acs_url``
        (HTTP-POST) and optionally ``slo_url`` (HTTP-Redirect and HTTP-POST).

        ``options`` are SimpleSAMLphp saml20-sp-remote settings merged over either form, e.g.
        ``NameIDFormat=NAMEID_EMAIL``, ``**{"saml20.sign.response": True}``, ``**{"validate.authnrequest": True}``.
        Registering the same entity ID again replaces it. Takes effect on the IdP's next request (no restart).
        Raises ValueError when neither form is complete or the XML is not an EntityDescriptor with an entityID.
        """
        if metadata_xml is not None:
            xml = metadata_xml.decode() if isinstance(metadata_xml, bytes) else metadata_xml
            key, endpoints = _sp_metadata_summary(xml)
            entry: dict = {"metadata_xml": xml, "options": options}
        elif entity_id and acs_url:
            entry = {"entity_id": entity_id, "acs_url": acs_url, "options": options}
            if slo_url:
                entry["slo_url"] = slo_url
            key, endpoints = entity_id, [acs_url, slo_url or ""]
        else:
            raise ValueError("register_sp needs metadata_xml, or entity_id and acs_url.")
        entry["key"] = key
        # SimpleSAMLphp redirects only to trusted hosts (e.g. after logout): trust the SP's own.
        entry["hosts"] = [_host_with_port(url) for url in endpoints if url]
        self.service_providers = [sp for sp in self.service_providers if sp["key"] != key] + [entry]
        self._write_state()

    def register_org_sp(self, base_url: str, org_slug: str, **options: object) -> dict[str, str]:
        """Trust the product's SP for ``org_slug`` at ``base_url`` (see ``sp_urls``); returns those URLs."""
        urls = sp_urls(base_url, org_slug)
        self.register_sp(urls["entity_id"], urls["acs_url"], urls["slo_url"], **options)
        return urls

    def clear_service_providers(self) -> None:
        """Forget every registered SP (the next AuthnRequest from any of them is refused by the IdP)."""
        self.service_providers = []
        self._write_state()

    # --- Lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start ``php -S`` (no-op when running); returns when the metadata URL answers. Raises ToolMissing
        or StartupFailed."""
        require_simplesamlphp()
        if self.process is not None and self.process.is_running:
            return
        for directory in ("sessions", "tmp", "data"):
            (self.workdir / directory).mkdir(parents=True, exist_ok=True)
        environment = child_environment(
            {
                "SIMPLESAMLPHP_CONFIG_DIR": str(CONFIG_DIR),
                "E2E_SIMPLESAMLPHP_STATE": str(self.workdir / "state.json"),
                # Several workers so a slow page never blocks the browser's parallel asset requests.
                "PHP_CLI_SERVER_WORKERS": "4",
            }
        )
        self.process = ManagedProcess(
            "SimpleSAMLphp IdP",
            [
                "php",
                "-S",
                f"{self.host}:{self.port}",
                "-t",
                str(SIMPLESAMLPHP_WWW),
                "-d",
                "display_errors=stderr",
                "-d",
                "log_errors=0",
            ],
            env=environment,
            cwd=self.workdir,
            log_path=self.log_path,
            ready=lambda: http_ok(self.metadata_url),
            port=self.port,
            startup_timeout=20,
        )
        self.process.start()

    def stop(self) -> None:
        """Stop the server (no-op when stopped); state, keys and registered SPs stay for a later ``start()``."""
        if self.process is not None:
            self.process.stop()

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.is_running

    # --- Internals --------------------------------------------------------------------------------------------

    def _signing_key_pair(self) -> KeyPair:
        existing = KeyPair(self.workdir / "idp-signing.crt", self.workdir / "idp-signing.key")
        if existing.certificate_path.is_file() and existing.private_key_path.is_file():
            return existing
        return _make_certificate(self.workdir, "idp-signing", f"{self.host} test IdP", valid_days=365)

    def _write_state(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        trusted = {f"{self.host}:{self.port}"}
        for sp in self.service_providers:
            trusted.update(sp.get("hosts", []))
        state = {
            "base_url": self.base_url,
            "entity_id": self.entity_id,
            "run_dir": str(self.workdir),
            "secret_salt": self._secret("secret_salt"),
            "admin_password": self.admin_password,
            "private_key_path": str(self.signing.private_key_path),
            "certificate_path": str(self.signing.certificate_path),
            "trusted_domains": sorted(trusted),
            "users": [
                {"username": user.username, "password": user.password, "attributes": user.attributes()}
                for user in self.users
            ],
            "service_providers": [
                {name: value for name, value in sp.items() if name not in {"key", "hosts"}}
                for sp in self.service_providers
            ],
        }
        # Write then rename: a request served meanwhile reads the old or the new file, never half of one.
        path = self.workdir / "state.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, path)

    def _secret(self, name: str) -> str:
        path = self.workdir / f"{name}.txt"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()


def _sp_metadata_summary(xml: str) -> tuple[str, list[str]]:
    """The entityID and endpoint URLs (ACS, SLO) of SP metadata XML (SAML Metadata §2.3.2, §2.4.4)."""
    try:
        root = ElementTree.fromstring(xml)  # noqa: S314 - metadata the test itself fetched from the product
    except ElementTree.ParseError as exc:
        raise ValueError(f"The SP metadata is not XML: {exc}") from exc
    entity_id = root.get("entityID")
    if root.tag != f"{MD}EntityDescriptor" or not entity_id:
        raise ValueError("The SP metadata is not an md:EntityDescriptor with an entityID.")
    endpoints = [
        element.get("Location", "")
        for name in ("AssertionConsumerService", "SingleLogoutService")
        for element in root.iter(f"{MD}{name}")
    ]
    return entity_id, endpoints


def _host_with_port(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port and parts.port != default:
        return f"{parts.hostname}:{parts.port}"
    return parts.hostname or ""
