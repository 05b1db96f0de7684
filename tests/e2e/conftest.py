"""Fixtures for the browser tests: the product over HTTPS, chromium through Playwright, SimpleSAMLphp and
node-oidc-provider. How they fit together is in README "End-to-end tests and local IdPs".

- ``product``: the product under gunicorn at ``product.base_url`` (``https://app.test:<port>``), production
  settings, a database of its own with the demo org (seed_demo). One per session; tests share its database, so
  a test that changes lasting state (locks an account, enforces SSO) uses people or orgs of its own
  (``product.create_user``, ``product.manage("createorg", ...)``). Override ``product_env`` to add settings.
- ``new_context()``: a fresh chromium (its own user-data dir) as a Playwright BrowserContext; call it again for a
  second person. ``page``: the page of one such context.
- ``saml_idp`` / ``oidc_provider``: the IdPs, started on first use and kept for the session (restarted if a test
  stopped one). Register the product with ``saml_idp.register_org_sp(product.base_url, "acme")`` or
  ``oidc_provider.add_org_client(product.base_url, "acme")``.

When a test fails, each open page's screenshot and HTML are saved (the report names the files) and the report
shows what every server logged during the test. Missing tools skip these tests with the reason, or fail them
when ``CI=true``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import harness
from tests.e2e.harness import CHROMIUM_FLAGS, CHROMIUM_PATH, ManagedProcess, ProductServer, ToolMissing
from tests.e2e.idp_oidc import NodeOIDCProvider, require_node_provider
from tests.e2e.idp_saml import SimpleSAMLphpIdP, require_simplesamlphp

E2E_ROOT = Path(__file__).resolve().parent
ARTIFACTS_DIR = Path(os.environ.get("E2E_ARTIFACTS_DIR") or harness.RUN_DIR / "artifacts")
DEFAULT_TIMEOUT_MS = 15_000

contexts_key = pytest.StashKey[list]()
log_offsets_key = pytest.StashKey[dict]()


def _is_e2e(item: pytest.Item | None) -> bool:
    return item is not None and E2E_ROOT in Path(str(item.path)).resolve().parents


def missing(reason: str) -> None:
    """Skip the test for a missing tool, or fail it under CI=true (CI must never skip the browser tests)."""
    if harness.in_ci():
        pytest.fail(f"CI=true and the end-to-end tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def need(check: Callable[[], Any]) -> Any:
    """Run ``check`` (e.g. ``harness.require_chromium``) turning ToolMissing into ``missing(...)``."""
    try:
        return check()
    except ToolMissing as exc:
        reason = str(exc)
    missing(reason)  # outside the except block, so the report shows the reason and not two tracebacks
    return None


# --- Collection: mark, and run the browser tests last -------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # mark before `-m "not e2e"` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test here is a browser test, marked or not, and runs after all others: while Playwright's sync API
    # lives it keeps an asyncio loop running in the main thread, which Django's ORM refuses to work under.
    for item in items:
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_is_e2e)


# --- The product --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def product_env() -> dict[str, str]:
    """Extra environment for the product (added to harness.DEFAULT_PRODUCT_ENV); override to change settings."""
    return {}


@pytest.fixture(scope="session")
def product(product_env: dict[str, str]) -> Iterator[ProductServer]:
    """The product at ``https://app.test:<port>`` (see the module docstring); stopped and its database dropped at
    the end of the session."""
    server = ProductServer(harness.make_workdir("product"), extra_env=dict(product_env))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        harness.remove_workdir(server.workdir)


# --- IdPs ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _saml_idp_session() -> Iterator[SimpleSAMLphpIdP]:
    need(require_simplesamlphp)
    idp = SimpleSAMLphpIdP(harness.make_workdir("simplesamlphp"))
    try:
        yield idp
    finally:
        idp.stop()
        harness.remove_workdir(idp.workdir)


@pytest.fixture
def saml_idp(_saml_idp_session: SimpleSAMLphpIdP) -> SimpleSAMLphpIdP:
    """SimpleSAMLphp at ``saml_idp.base_url``, running (restarted if an earlier test stopped it); registered SPs
    persist for the session."""
    _saml_idp_session.start()
    return _saml_idp_session


@pytest.fixture(scope="session")
def _oidc_provider_session() -> Iterator[NodeOIDCProvider]:
    need(require_node_provider)
    provider = NodeOIDCProvider(harness.make_workdir("oidc-provider"))
    try:
        yield provider
    finally:
        provider.stop()
        harness.remove_workdir(provider.workdir)


@pytest.fixture
def oidc_provider(_oidc_provider_session: NodeOIDCProvider) -> NodeOIDCProvider:
    """node-oidc-provider at ``oidc_provider.issuer``, running (restarted if an earlier test stopped it)."""
    _oidc_provider_session.start()
    return _oidc_provider_session


# --- The browser --------------------------------------------------------------------------------------------------


class PlaywrightHolder:
    """Starts Playwright's sync API on first use and stops it before any non-browser test runs."""

    def __init__(self) -> None:
        self._playwright: Any = None

    def get(self) -> Any:
        if self._playwright is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
        return self._playwright

    def stop(self) -> None:
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


_playwright_holder = PlaywrightHolder()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if not _is_e2e(nextitem):
        _playwright_holder.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _playwright_holder.stop()


@pytest.fixture
def new_context(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``new_context(**options)``: launch Debian's chromium with a fresh user-data dir and return its Playwright
    BrowserContext (``options`` go to ``launch_persistent_context``, e.g. ``viewport``). All close after the test.

    The browser resolves app.test to 127.0.0.1 and accepts the run's self-signed certificates.
    """
    need(harness.require_chromium)
    contexts: list[Any] = []
    request.node.stash[contexts_key] = contexts

    def launch(**options: Any) -> Any:
        profile = tmp_path / f"chromium-profile-{len(contexts) + 1}"
        profile.mkdir()
        context = _playwright_holder.get().chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM_PATH,
            args=CHROMIUM_FLAGS,
            headless=True,
            **options,
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield launch
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Any:
    """The single page of a fresh chromium context."""
    return new_context().pages[0]


# --- Reports of failed tests --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _server_log_offsets(request: pytest.FixtureRequest) -> None:
    # Where each server's log stood when the test began, so a failure shows just what this test caused.
    request.node.stash[log_offsets_key] = {process.log_path: process.log_size() for process in ManagedProcess.running}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not _is_e2e(item) or not report.failed or report.when == "teardown":
        return
    for context_number, context in enumerate(item.stash.get(contexts_key, []), start=1):
        report.sections.append(("browser", _save_pages(item, context_number, context)))
    offsets = item.stash.get(log_offsets_key, {})
    for process in ManagedProcess.running:
        text = process.log_text(since=offsets.get(process.log_path, 0), max_lines=200)
        report.sections.append((f"log of {process.name} during the test ({process.log_path})", text or "(nothing)"))


def _save_pages(item: pytest.Item, context_number: int, context: Any) -> str:
    from playwright.sync_api import Error as PlaywrightError

    directory = ARTIFACTS_DIR / re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for page_number, open_page in enumerate(context.pages, start=1):
        stem = directory / f"context{context_number}-page{page_number}"
        try:
            open_page.screenshot(path=f"{stem}.png", full_page=True, timeout=5_000)
            Path(f"{stem}.html").write_text(open_page.content())
            lines.append(f"{open_page.url}\n  screenshot {stem}.png\n  html       {stem}.html")
        except (PlaywrightError, OSError) as exc:  # a page that cannot be captured must not hide the failure
            lines.append(f"{open_page.url}: could not capture ({exc})")
    return "\n".join(lines) or "(no open pages)"
