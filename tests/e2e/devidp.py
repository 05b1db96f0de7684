"""``make idp``: SimpleSAMLphp and node-oidc-provider for the demo org, for trying SSO against ``make run``.

Runs the same IdP code as the browser tests (tests/e2e/idp_saml.py, tests/e2e/idp_oidc.py) on fixed ports, trusts
the product's SP and OIDC client for one organization, prints what to paste into that org's SSO page, and runs
until Ctrl-C (or SIGTERM), which stops both. Keys, client secret and the IdP state live in
``tests/e2e/.run/devidp/`` and are kept between runs, so a connection set up once keeps working.

    python -m tests.e2e.devidp [--saml-port 8080] [--oidc-port 8081] [--app-url http://localhost:8000] [--org acme]

The same options can come from SAML_IDP_PORT, OIDC_PROVIDER_PORT, APP_URL and ORG (``make idp SAML_IDP_PORT=...``).
``--once`` starts, prints and stops (a smoke check).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from tests.e2e.harness import DEFAULT_PRODUCT_ENV, RUN_DIR, StartupFailed, ToolMissing
from tests.e2e.idp_oidc import NodeOIDCProvider, redirect_uri
from tests.e2e.idp_saml import SimpleSAMLphpIdP, sp_urls


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Options from ``argv`` (default ``sys.argv``), with defaults from the environment (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saml-port", type=int, default=int(os.environ.get("SAML_IDP_PORT") or 8080))
    parser.add_argument("--oidc-port", type=int, default=int(os.environ.get("OIDC_PROVIDER_PORT") or 8081))
    parser.add_argument("--app-url", default=os.environ.get("APP_URL") or "http://localhost:8000")
    parser.add_argument("--org", default=os.environ.get("ORG") or "acme")
    parser.add_argument("--state-dir", type=Path, default=RUN_DIR / "devidp")
    parser.add_argument("--once", action="store_true", help="start, print the details, stop")
    return parser.parse_args(argv)


def serve_command(app_url: str) -> str:
    """The ``make run`` command that serves the product at ``app_url`` for these IdPs: the settings it needs
    (``DEFAULT_PRODUCT_ENV``) and ``PORT=`` when ``app_url`` is not on make run's default port 8000."""
    settings = " ".join(f"{name}={value}" for name, value in DEFAULT_PRODUCT_ENV.items())
    port = urlsplit(app_url).port
    return f"{settings} make run" + (f" PORT={port}" if port is not None and port != 8000 else "")


def describe(saml: SimpleSAMLphpIdP, oidc: NodeOIDCProvider, app_url: str, org: str) -> str:
    """The text ``make idp`` prints: what to paste into the org's SSO page, and who can sign in."""
    sp = sp_urls(app_url, org)
    client = oidc.clients[f"orgsecurity-{org}"]
    lines = [
        f"Local IdPs for the organization '{org}' of {app_url} (Ctrl-C stops both).",
        "",
        f"SAML 2.0 IdP: SimpleSAMLphp on {saml.base_url}",
        f"  IdP metadata URL  {saml.metadata_url}    <- paste this into the SSO page",
        f"  IdP entity ID     {saml.entity_id}",
        f"  SSO URL           {saml.sso_url} (HTTP-Redirect)",
        f"  SLO URL           {saml.slo_url}",
        f"  signing cert      SHA-256 {saml.signing.sha256_fingerprint}",
        f"  trusts the SP     entity ID {sp['entity_id']}",
        f"                    ACS URL   {sp['acs_url']}",
        f"                    SLO URL   {sp['slo_url']}",
        "  users (username / password, email, persistent NameID):",
        *(f"    {u.username:<8} / {u.password:<17} {u.email:<20} {u.uid}" for u in saml.users),
        "",
        f"OpenID Provider: node-oidc-provider on {oidc.issuer}",
        f"  issuer            {oidc.issuer}    <- paste these three into the SSO page",
        f"  client ID         {client.client_id}",
        f"  client secret     {client.client_secret}",
        f"  redirect URI      {redirect_uri(app_url, org)} (registered; PKCE S256 required)",
        "  or from a shell   DEBUG=1 OIDC_CLIENT_SECRET=<the client secret> .venv/bin/python manage.py configure_sso "
        f"{org} --protocol oidc --issuer {oidc.issuer} --client-id {client.client_id} "
        "--client-secret-env OIDC_CLIENT_SECRET",
        "  users (login / password, email, sub):",
        *(
            f"    {u.login:<10} / {u.password:<18} {u.email:<20} {u.sub}"
            + ("" if u.email_verified else "  (email not verified)")
            for u in oidc.users
        ),
        "",
        f"Serve the product with `{serve_command(app_url)}` so it may fetch metadata from 127.0.0.1,",
        "then sign in as owner@acme.test / acme-demo-password and open Security > SSO (top bar).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Start both IdPs, print the details, wait for Ctrl-C or SIGTERM, stop both. Exit status 0, or 1 when an IdP
    cannot start (a missing tool, a port in use) or dies while running."""
    arguments = parse_arguments(argv)
    state = arguments.state_dir
    saml = SimpleSAMLphpIdP(state / "simplesamlphp", arguments.saml_port)
    oidc = NodeOIDCProvider(state / "oidc-provider", arguments.oidc_port)
    # Logout messages signed: the product's Sign out starts SAML single logout and accepts only a signed answer.
    saml.register_org_sp(arguments.app_url, arguments.org, **{"sign.logout": True})
    oidc.add_org_client(arguments.app_url, arguments.org)

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        saml.start()
        oidc.start()
        print(describe(saml, oidc, arguments.app_url, arguments.org), flush=True)
        while not arguments.once:
            for server in (saml, oidc):
                if not server.is_running:
                    print(f"\n{server.process.name} stopped unexpectedly.\n{server.process.log_tail()}", flush=True)
                    return 1
            time.sleep(0.5)
    except (ToolMissing, StartupFailed) as exc:
        print(f"make idp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping the IdPs.", flush=True)
    finally:
        oidc.stop()
        saml.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
