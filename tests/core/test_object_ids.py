"""Every page that names an object by id in its URL answers 404 for an id no row can have, never a 500.

Attack: ids past the 64-bit range (``<int:...>`` accepts any digits). A lookup through a foreign key
(``user_id=``) handed SQLite a number it cannot bind (OverflowError, a 500 page); lookups on primary keys were
already safe.
"""

from __future__ import annotations

import pytest

from tests.helpers.core import sign_in_client

HUGE = "9" * 25

URLS = [
    ("post", f"/orgs/acme/members/{HUGE}/role/"),
    ("post", f"/orgs/acme/members/{HUGE}/remove/"),
    ("post", f"/orgs/acme/invitations/{HUGE}/revoke/"),
    ("post", f"/accounts/sessions/{HUGE}/end/"),
    ("post", f"/orgs/acme/settings/security/sessions/members/{HUGE}/end/"),
    ("post", f"/orgs/acme/settings/security/sessions/members/person/{HUGE}/end-all/"),
    ("get", f"/orgs/acme/settings/security/keys/{HUGE}/rotate/"),
    ("post", f"/orgs/acme/settings/security/keys/{HUGE}/revoke/"),
    ("post", f"/orgs/acme/settings/security/keys/{HUGE}/reviewed/"),
]


@pytest.mark.parametrize(("method", "url"), URLS)
def test_an_id_out_of_any_range_is_404(client, owner, method, url):
    sign_in_client(client, owner)
    response = getattr(client, method)(url, {"role": "member", "reason": "test"})
    assert response.status_code == 404
