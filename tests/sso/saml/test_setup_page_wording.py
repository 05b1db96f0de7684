"""The IdP admin's set-up page reads plainly (issue 20's walkthrough): no field whose need depends on the chosen
source is marked "(optional)" (each says with which source it is needed), the IdP choice's label is not squeezed
beside its select, and a metadata URL at a private address is refused without naming a setting of ours, even on a
development server (operators find the setting in the log)."""

from __future__ import annotations

import html
import logging
import re

import pytest
from django.test import Client

from sso.setup_links import actions
from tests.helpers.saml import connect


@pytest.fixture
def browser(org, owner, test_idp) -> Client:
    connection = connect(org, owner, test_idp, status="off")
    _link, url = actions.create_link(connection, actor=owner, recipient="Jane, Contoso IT")
    path = "/" + url.split("/", 3)[3]
    client = Client()
    client.get(path)
    assert client.post(path)["Location"] == "/sso/acme/setup/"
    return client


def test_source_dependent_fields_say_when_they_are_needed(browser):
    page = html.unescape(browser.get("/sso/acme/setup/").content.decode())
    form = page[page.index('id="step-idp"') : page.index('id="step-test"')]
    assert "(optional)" not in form
    assert re.search(r"IdP metadata URL <small>\(Metadata URL\)</small></label>", form)
    assert re.search(r"IdP entity ID <small>\(Manual entry\)</small></label>", form)


def test_the_idp_choice_label_stands_above_its_select(browser):
    page = browser.get("/sso/acme/setup/").content.decode()
    preset_form = re.search(r'<form method="post" action="/sso/acme/setup/saml/preset/"[^>]*>', page).group(0)
    assert 'class="inline"' not in preset_form


def test_a_private_metadata_url_is_refused_without_naming_a_setting(browser, settings, caplog):
    settings.DEBUG = True  # a development server: even there, the IdP admin reads no setting's name
    settings.SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
    with caplog.at_level(logging.INFO, logger="sso.fetch"):
        response = browser.post("/sso/acme/setup/saml/", {"source": "url", "metadata_url": "https://10.0.0.5/md"})
    shown = html.unescape(response.content.decode())
    if response.status_code == 302:
        shown = html.unescape(browser.get(response["Location"]).content.decode())
    assert "a private network address; identity provider documents are fetched only from public addresses" in shown
    assert "SSO_METADATA_ALLOW_PRIVATE_HOSTS" not in shown
    assert "SSO_METADATA_ALLOW_PRIVATE_HOSTS=1" in caplog.text
