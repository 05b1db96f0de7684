"""Authenticator app (RFC 6238) and backup codes: set-up with re-authentication, each code once, ±1 step of skew,
backup codes shown once and replaced by a new set, everything audited."""

from __future__ import annotations

import re

from audit.models import AuditEvent
from orgsecurity.crypto import decrypt_secret
from tests.helpers.core import mark_reauthenticated_session
from tests.helpers.twofactor import code_for_secret, give_totp
from twofactor import actions, totp, views
from twofactor.models import BackupCode, TOTPDevice


def test_matching_step_accepts_one_step_of_skew_each_way_and_refuses_two(moving_clock):
    secret = totp.new_secret()
    now = moving_clock.now
    for offset in (-1, 0, 1):
        assert totp.matching_step(
            secret, code_for_secret(secret, now, offset_steps=offset), at=now, last_used_step=None
        )
    for offset in (-2, 2):
        assert (
            totp.matching_step(secret, code_for_secret(secret, now, offset_steps=offset), at=now, last_used_step=None)
            is None
        )


def test_a_code_is_accepted_once_only(member, moving_clock):
    secret = give_totp(member)
    moving_clock.advance(30)
    code = code_for_secret(secret)
    assert actions.use_totp(member, code) is True
    assert actions.use_totp(member, code) is False  # the same code within its window: refused
    moving_clock.advance(30)
    assert actions.use_totp(member, code_for_secret(secret)) is True


def test_the_secret_is_encrypted_at_rest(member, moving_clock):
    secret = give_totp(member)
    stored = TOTPDevice.objects.get(user=member).secret
    assert secret not in stored
    assert decrypt_secret(stored) == secret


def test_setting_up_an_app_needs_reauthentication_shows_a_qr_code_and_gives_backup_codes_once(client_for, member):
    client = client_for(member)
    client.post("/accounts/2fa/app/")
    page = client.get("/accounts/2fa/app/")
    assert page.status_code == 200
    assert b"<svg" in page.content
    secret = decrypt_secret(client.session[views.TOTP_SETUP_SESSION_KEY])
    session = client.session
    session["reauth_at"] = 0  # long ago
    session.save()
    response = client.post("/accounts/2fa/app/", {"code": code_for_secret(secret)})
    assert response.status_code == 302 and "/accounts/reauthenticate/" in response["Location"]
    assert not TOTPDevice.objects.filter(user=member).exists()

    session = client.session
    mark_reauthenticated_session(session)
    session.save()
    response = client.post("/accounts/2fa/app/", {"code": code_for_secret(secret)})
    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=member).exists()
    shown = client.get(response["Location"])
    page = shown.content.decode()
    codes = re.findall(r"[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}", page.split('<p class="no-print">')[0])
    assert len(codes) == 10
    # As the recovery codes page: a .txt download holding the same codes, and print (the walkthrough found Copy only).
    download = re.search(r'href="data:text/plain;charset=utf-8,([^"]*)" download="backup-codes.txt"', page)
    assert download and all(code in download.group(1) for code in codes)
    assert "data-print" in page
    again = client.get(response["Location"])
    assert b"shown once already" in again.content
    assert AuditEvent.objects.filter(action="twofactor.factor_added", target_id=str(member.pk)).exists()


def test_a_wrong_setup_code_is_refused_with_a_reason(client_for, member):
    client = client_for(member)
    client.post("/accounts/2fa/app/")
    response = client.post("/accounts/2fa/app/", {"code": "000000"})
    assert response.status_code == 400
    assert "does not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=member).exists()


def test_regenerating_backup_codes_invalidates_the_old_set(member, moving_clock):
    give_totp(member)
    old = actions.regenerate_backup_codes(member, actor=member)
    new = actions.regenerate_backup_codes(member, actor=member)
    assert actions.use_backup_code(member, old[0]) is False
    assert actions.use_backup_code(member, new[0]) is True
    assert actions.use_backup_code(member, new[0]) is False  # once only
    assert BackupCode.objects.filter(user=member, used_at=None).count() == 9
    assert AuditEvent.objects.filter(action="twofactor.backup_code_used").exists()


def test_backup_codes_are_stored_hashed(member):
    codes = actions.regenerate_backup_codes(member, actor=member)
    stored = set(BackupCode.objects.filter(user=member).values_list("code_hash", flat=True))
    assert not stored & set(codes)
