"""Server-side sessions (issue 16): a cookie copied before logout, a password change, a
deactivation or a 2FA reset opens nothing afterwards; « Mon compte » lists the sessions and ends
the others; the TOTP seed being enrolled never travels in the cookie; SECRET_KEY is long enough."""

import json
import re

import pytest
from sqlalchemy import select

from app import create_app
from app.auth.models import UserSession
from app.config import Config
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, csrf_token, login

COOKIE = "constat_session"


def copy_of(app, client):
    """A second browser holding a copy of the client's session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def cookie_data(app, client) -> dict:
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.loads(client.get_cookie(COOKIE).value)


def test_a_cookie_saved_before_logout_gets_the_login_page_after_it(app, client, volunteer):
    login(client, volunteer)
    thief = copy_of(app, client)
    assert thief.get("/cases/").status_code == 200  # the copy works while the session lives
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    response = thief.get("/cases/")
    assert response.status_code == 302 and response.location.startswith("/login")
    row = db.session.scalar(select(UserSession))
    assert row.revoked_at is not None
    # The cookie holds a random token only; the table holds its digest, never the token.
    token = cookie_data(app, thief)["sid"]
    assert len(token) >= 40 and row.token_hash != token


def test_password_change_ends_the_other_sessions_not_this_one(app, client, volunteer):
    login(client, volunteer)
    other = app.test_client()
    login(other, volunteer)
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "une toute autre phrase secrète",
        "confirm": "une toute autre phrase secrète", "csrf_token": csrf_token(client, "/account/")})
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 200
    assert other.get("/cases/").status_code == 302


def test_deactivation_and_2fa_reset_end_sessions_for_good(app, client, org, volunteer):
    admin = factories.user(org, "admin")
    login(client, volunteer)
    thief = copy_of(app, client)
    boss = app.test_client()
    login(boss, admin)
    token = csrf_token(boss, "/admin/accounts/")
    boss.post(f"/admin/accounts/{volunteer.id}/deactivate", data={"csrf_token": token})
    boss.post(f"/admin/accounts/{volunteer.id}/reactivate", data={"csrf_token": token})
    assert client.get("/cases/").status_code == 302 and thief.get("/cases/").status_code == 302
    login(client, volunteer)
    boss.post(f"/admin/accounts/{volunteer.id}/reset-2fa", data={"csrf_token": token})
    assert client.get("/cases/").status_code == 302


def test_account_lists_sessions_and_ends_the_others(app, client, volunteer):
    other = app.test_client()
    login(other, volunteer)
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
    login(client, volunteer)
    page = client.get("/account/").get_data(as_text=True)
    assert "Sessions ouvertes" in page and "Firefox sur Linux" in page and "(cette session)" in page
    assert page.count("<tr><td>") == 2
    response = client.post("/account/sessions/end-others", data={"csrf_token": csrf_token(client, "/account/")})
    assert response.status_code == 302
    assert "1 autre(s) session(s) déconnectée(s)" in client.get("/account/").get_data(as_text=True)
    assert other.get("/cases/").status_code == 302 and client.get("/cases/").status_code == 200
    assert client.post("/account/sessions/end-others", data={}).status_code == 400  # CSRF


def test_pending_totp_seed_stays_on_the_server(app, client, volunteer):
    login(client, volunteer)
    page = client.get("/account/2fa/setup").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    assert secret not in json.dumps(cookie_data(app, client))
    row = db.session.scalar(select(UserSession))
    assert row.pending_totp.startswith("v1:") and secret not in row.pending_totp
    # The same seed is shown again on reload (kept server-side, not regenerated).
    assert secret in client.get("/account/2fa/setup").get_data(as_text=True)


def test_totp_secret_needs_the_key_and_rotation_rekeys(app, volunteer):
    from app.auth import services
    from app.core import security

    volunteer.totp_secret = "JBSWY3DPEHPK3PXP"  # stored in clear before encryption existed
    db.session.commit()
    assert services.totp_secret_of(volunteer) == "JBSWY3DPEHPK3PXP"
    assert services.rekey_secrets() == 1
    stored = volunteer.totp_secret
    assert stored.startswith("v1:") and "JBSWY3DPEHPK3PXP" not in stored
    # Rotation: a new SECRET_KEY with the old one as SECRET_KEY_PREVIOUS still decrypts, then rekeys.
    old = app.config["SECRET_KEY"]
    app.config.update(SECRET_KEY="n" * 64, SECRET_KEY_PREVIOUS=old)
    assert services.totp_secret_of(volunteer) == "JBSWY3DPEHPK3PXP"
    assert security.needs_reencryption(stored) and services.rekey_secrets() == 1
    app.config.update(SECRET_KEY_PREVIOUS="")
    assert services.totp_secret_of(volunteer) == "JBSWY3DPEHPK3PXP"
    app.config.update(SECRET_KEY=old)  # the key is lost: no value, a clear error
    with pytest.raises(ValueError):
        services.totp_secret_of(volunteer)


@pytest.mark.parametrize("key", ["abc", "x" * 31])
def test_production_refuses_a_short_secret_key(tmp_path, monkeypatch, key):
    monkeypatch.setenv("CONSTAT_ENV", "production")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", key)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="32 octets"):
        create_app(Config(START_WORKERS=False))
