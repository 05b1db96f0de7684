"""A real OpenID Provider for the browser tests and ``make idp``: node-oidc-provider on 127.0.0.1.

The provider program is ``tests/e2e/oidc_provider/provider.mjs`` (npm package ``oidc-provider``, pinned in that
folder's package.json and package-lock.json and installed with ``npm ci``; nothing is fetched at run time). It
reads one JSON configuration file (its format is documented at the top of provider.mjs) that this module writes:
issuer, clients, users, signing keys. Changing clients or keys rewrites the file and restarts the provider on the
same port (well under a second); keys and client secrets stay the same unless rotated.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.e2e.harness import E2E_DIR, ManagedProcess, ToolMissing, child_environment, free_port, http_ok

PROVIDER_DIR = E2E_DIR / "oidc_provider"
MINIMUM_NODE = (20, 19)


@dataclass(frozen=True)
class OIDCUser:
    """A person the provider knows: signs in on the devInteractions page with ``login``/``password``.

    ``sub`` is the stable, opaque subject identifier (OIDC Core §2, §5.7), deliberately unlike the login and the
    email; the other fields are standard claims (OIDC Core §5.1), ``groups`` a common extension.
    """

    login: str
    password: str
    sub: str
    email: str
    name: str
    given_name: str
    family_name: str
    email_verified: bool = True
    groups: tuple[str, ...] = ()


@dataclass
class OIDCClient:
    """A relying party registered at the provider (client metadata names from RFC 7591 §2).

    ``extra`` adds or overrides metadata, e.g. ``{"id_token_signed_response_alg": "ES256"}`` or
    ``{"token_endpoint_auth_method": "client_secret_post"}``.
    """

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)

    def metadata(self) -> dict[str, object]:
        """The client's metadata as provider.mjs takes it: code flow only, then ``extra`` over it."""
        metadata: dict[str, object] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }
        metadata.update(self.extra)
        return metadata


DEFAULT_USERS: tuple[OIDCUser, ...] = (
    OIDCUser("owner", "owner-op-pass", "op-7f3a-olivia", "owner@acme.test", "Olivia Owner", "Olivia", "Owner",
             groups=("acme-admins", "acme-staff")),
    OIDCUser("admin", "admin-op-pass", "op-81c2-adam", "admin@acme.test", "Adam Admin", "Adam", "Admin",
             groups=("acme-admins", "acme-staff")),
    OIDCUser("member", "member-op-pass", "op-93d4-mia", "member@acme.test", "Mia Member", "Mia", "Member",
             groups=("acme-staff",)),
    OIDCUser("newhire", "newhire-op-pass", "op-a5e6-nina", "newhire@acme.test", "Nina Newhire", "Nina", "Newhire",
             groups=("acme-staff",)),
    OIDCUser("unverified", "unverified-op-pass", "op-b7f8-uma", "uma@acme.test", "Uma Unverified", "Uma",
             "Unverified", email_verified=False),
)  # fmt: skip


def redirect_uri(base_url: str, org_slug: str) -> str:
    """The product's OIDC redirect URI for ``org_slug`` under ``base_url`` (README "Public URLs")."""
    return f"{base_url.rstrip('/')}/sso/{org_slug}/oidc/callback/"


def node_modules_ready() -> bool:
    """True when ``npm ci`` has installed the pinned oidc-provider in tests/e2e/oidc_provider/node_modules."""
    installed = PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json"
    if not installed.is_file():
        return False
    lock = json.loads((PROVIDER_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/oidc-provider"]["version"]
    return json.loads(installed.read_text())["version"] == pinned


def require_node_provider() -> None:
    """Raise ToolMissing unless node (>= 20.19) is installed and ``npm ci`` installed the pinned provider."""
    node = shutil.which("node")
    if node is None:
        raise ToolMissing("node is missing: `apt-get install nodejs npm` (node 20.19 or later).")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    numbers = tuple(int(part) for part in version.lstrip("v").split(".")[:2] if part.isdigit())
    if numbers < MINIMUM_NODE:
        raise ToolMissing(f"node {version} is too old for oidc-provider 9: install node 20.19 or later.")
    if not node_modules_ready():
        raise ToolMissing(
            "oidc-provider is not installed (or not the pinned version): "
            "`npm ci --prefix tests/e2e/oidc_provider` (or `make idp-deps`)."
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_int(number: int) -> str:
    return _b64url(number.to_bytes((number.bit_length() + 7) // 8 or 1, "big"))


def _kid(public: dict[str, str]) -> str:
    # RFC 7638 JWK thumbprint of the required public members, as many providers use for kid.
    members = {name: public[name] for name in sorted(public) if name in {"crv", "e", "kty", "n", "x", "y"}}
    return _b64url(hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest())


def make_rsa_jwk() -> dict[str, str]:
    """A fresh RSA-2048 private JWK (RFC 7517/7518 §6.3) for RS256, with an RFC 7638 thumbprint as kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.private_numbers()
    public = {"kty": "RSA", "n": _b64url_int(numbers.public_numbers.n), "e": _b64url_int(numbers.public_numbers.e)}
    private = {
        "d": _b64url_int(numbers.d),
        "p": _b64url_int(numbers.p),
        "q": _b64url_int(numbers.q),
        "dp": _b64url_int(numbers.dmp1),
        "dq": _b64url_int(numbers.dmq1),
        "qi": _b64url_int(numbers.iqmp),
    }
    return {**public, **private, "kid": _kid(public), "alg": "RS256", "use": "sig"}


def make_ec_jwk() -> dict[str, str]:
    """A fresh P-256 private JWK (RFC 7518 §6.2) for ES256, with an RFC 7638 thumbprint as kid."""
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.private_numbers()
    public = {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.public_numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.public_numbers.y.to_bytes(32, "big")),
    }
    return {**public, "d": _b64url(numbers.private_value.to_bytes(32, "big")), "kid": _kid(public), "alg": "ES256",
            "use": "sig"}  # fmt: skip


class NodeOIDCProvider:
    """node-oidc-provider as an OpenID Provider on ``http://127.0.0.1:<port>`` (issuer = that origin).

    Authorization code flow with PKCE (S256) required, client_secret_basic by default, ID tokens signed RS256
    (ES256 for clients asking for it), discovery at ``/.well-known/openid-configuration`` and JWKS at ``/jwks``.
    ``workdir`` holds the configuration file (keys included: it is mode 0600) and the log.
    """

    def __init__(
        self,
        workdir: Path,
        port: int = 0,
        users: tuple[OIDCUser, ...] = DEFAULT_USERS,
        *,
        host: str = "127.0.0.1",
        skip_consent: bool = True,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port(host)
        self.host = host
        self.users = users
        self.skip_consent = skip_consent
        self.clients: dict[str, OIDCClient] = {}
        self.process: ManagedProcess | None = None
        self._load_or_make_keys()

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def discovery_url(self) -> str:
        """OpenID Connect Discovery 1.0 §4 configuration document."""
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def log_path(self) -> Path:
        return self.workdir / "oidc-provider.log"

    @property
    def config_path(self) -> Path:
        return self.workdir / "provider.json"

    @property
    def signing_kids(self) -> list[str]:
        """The kids in the provider's JWKS, signing keys first."""
        return [key["kid"] for key in self.keys]

    def user(self, login: str) -> OIDCUser:
        """The test user whose login is ``login``; KeyError when there is none."""
        for user in self.users:
            if user.login == login:
                return user
        raise KeyError(login)

    # --- Clients -------------------------------------------------------------------------------------------

    def add_client(self, client: OIDCClient) -> OIDCClient:
        """Register (or replace, by client ID) ``client``; restarts the provider when it runs and the client
        is new or changed."""
        if self.clients.get(client.client_id) != client:
            self.clients[client.client_id] = client
            self._apply()
        return client

    def add_org_client(
        self,
        base_url: str,
        org_slug: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        **extra: object,
    ) -> OIDCClient:
        """Register a client for the product's org ``org_slug`` at ``base_url`` (redirect URI by convention).

        ``client_id`` defaults to ``orgsecurity-<org>``, the secret to a stable random one for this provider.
        ``extra`` is client metadata as in OIDCClient.
        """
        client_id = client_id or f"orgsecurity-{org_slug}"
        client = OIDCClient(
            client_id=client_id,
            client_secret=client_secret or self._stable_secret(f"client-secret-{client_id}"),
            redirect_uris=[redirect_uri(base_url, org_slug)],
            post_logout_redirect_uris=[f"{base_url.rstrip('/')}/accounts/login/"],
            extra=extra,
        )
        return self.add_client(client)

    # --- Keys ------------------------------------------------------------------------------------------------

    def rotate_signing_keys(self, *, keep_old: bool = True) -> list[str]:
        """Make new RS256 and ES256 keys (new kids) that sign from now on; restart the provider when it runs.

        ``keep_old`` keeps the old public keys in the JWKS (a graceful rotation); False drops them (tokens
        signed before no longer verify). Returns the new kids.
        """
        fresh = [make_rsa_jwk(), make_ec_jwk()]
        self.keys = fresh + (self.keys if keep_old else [])
        self._save_keys()
        self._apply()
        return [key["kid"] for key in fresh]

    # --- Lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the provider (no-op when running); returns when discovery answers. Raises ToolMissing or
        StartupFailed."""
        require_node_provider()
        if self.process is not None and self.process.is_running:
            return
        self._write_config()
        self.process = ManagedProcess(
            "node-oidc-provider",
            ["node", str(PROVIDER_DIR / "provider.mjs"), str(self.config_path)],
            env=child_environment({"NODE_ENV": "development"}),
            cwd=PROVIDER_DIR,
            log_path=self.log_path,
            ready=lambda: http_ok(self.discovery_url),
            port=self.port,
            startup_timeout=20,
        )
        self.process.start()

    def stop(self) -> None:
        """Stop the provider (no-op when stopped); clients and keys stay for a later ``start()``."""
        if self.process is not None:
            self.process.stop()

    def restart(self) -> None:
        """Stop and start again on the same port, reading the configuration anew (sessions are forgotten)."""
        self.stop()
        self.start()

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.is_running

    # --- Internals ---------------------------------------------------------------------------------------------

    def _apply(self) -> None:
        self._write_config()
        if self.is_running:
            self.restart()

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "issuer": self.issuer,
            "clients": [client.metadata() for client in self.clients.values()],
            "users": [{**asdict(user), "groups": list(user.groups)} for user in self.users],
            "jwks": {"keys": self.keys},
            "cookie_keys": [self._stable_secret("cookie-key")],
            "skip_consent": self.skip_consent,
            "require_pkce": True,
            "conform_id_token_claims": False,
        }
        self.config_path.touch(mode=0o600)
        self.config_path.write_text(json.dumps(config, indent=2))

    def _load_or_make_keys(self) -> None:
        path = self.workdir / "signing-keys.json"
        if path.is_file():
            self.keys = json.loads(path.read_text())
            return
        self.keys = [make_rsa_jwk(), make_ec_jwk()]
        self._save_keys()

    def _save_keys(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "signing-keys.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(self.keys, indent=2))

    def _stable_secret(self, name: str) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".txt")
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()
