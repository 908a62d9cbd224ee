"""Two-factor authentication: enrolment with a QR code, codes accepted once, recovery codes,
and an association that requires it for every member."""

import re
from datetime import datetime

import pyotp
import pytest
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth import services
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, csrf_token, login

NOW = datetime(2025, 6, 2, 9, 30, 10)


@pytest.fixture
def frozen(monkeypatch):
    """A settable clock for the TOTP checks (services read app.core.clock through utcnow)."""
    clock = {"now": NOW}
    monkeypatch.setattr(services, "utcnow", lambda: clock["now"])
    return clock


def code_at(secret, when, steps=0):
    return pyotp.TOTP(secret).generate_otp(services._time_counter(when) + steps)


def enrol(client, frozen):
    """Go through the enrolment page like a user: read the key, type a code, get recovery codes."""
    page = client.get("/account/2fa/setup").get_data(as_text=True)
    assert 'src="data:image/png;base64,' in page
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    response = client.post("/account/2fa/setup", data={"code": code_at(secret, frozen["now"]),
                                                       "csrf_token": csrf_token(client, "/account/2fa/setup")})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == services.RECOVERY_CODE_COUNT
    return secret, codes


def second_step(client, code):
    return client.post("/login/2fa", data={"code": code, "csrf_token": csrf_token(client, "/login/2fa")})


def test_totp_code_is_accepted_once_only(frozen):
    secret = services.new_totp_secret()
    code = code_at(secret, NOW)
    counter = services._matching_counter(secret, code, None, NOW)
    assert counter is not None
    assert services._matching_counter(secret, code, counter, NOW) is None  # replay
    assert services._matching_counter(secret, code_at(secret, NOW, -1), counter, NOW) is None  # older
    assert services._matching_counter(secret, code_at(secret, NOW, 1), counter, NOW) == counter + 1  # drift
    assert services._matching_counter(secret, code_at(secret, NOW, 3), None, NOW) is None  # too far


def test_enrolment_then_login_needs_a_fresh_code(client, volunteer, frozen):
    login(client, volunteer)
    secret, _ = enrol(client, frozen)
    db.session.refresh(volunteer)
    # Stored encrypted: the seed is not in the database in clear.
    assert volunteer.totp_secret.startswith("v1:") and secret not in volunteer.totp_secret
    assert services.totp_secret_of(volunteer) == secret and volunteer.totp_last_counter == services._time_counter(NOW)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})

    response = login(client, volunteer)
    assert response.location == "/login/2fa"
    assert client.get("/cases/").location == "/login/2fa"
    # The enrolment code, typed again in the same 30 seconds, is refused: one use only.
    response = second_step(client, code_at(secret, frozen["now"]))
    assert response.status_code == 422 and "déjà utilisé" in response.get_data(as_text=True)
    assert client.get("/cases/").location == "/login/2fa"

    frozen["now"] = datetime(2025, 6, 2, 9, 31, 0)
    fresh = code_at(secret, frozen["now"])
    response = second_step(client, fresh)
    assert response.status_code == 302 and response.location == "/cases/"
    assert client.get("/cases/").status_code == 200
    # And on another device (a new session), the same code no longer works.
    other = client.application.test_client()
    login(other, volunteer)
    assert second_step(other, fresh).status_code == 422
    assert other.get("/cases/").status_code == 302


def test_enrolled_user_cannot_re_enrol_around_the_second_factor(client, volunteer, frozen):
    login(client, volunteer)
    enrol(client, frozen)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    login(client, volunteer)
    response = client.get("/account/2fa/setup")
    assert response.status_code == 302 and response.location == "/login/2fa"


def test_recovery_code_works_once(client, volunteer, frozen):
    login(client, volunteer)
    _, codes = enrol(client, frozen)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    login(client, volunteer)
    assert second_step(client, codes[0].upper().replace("-", " ")).status_code == 302
    assert client.get("/cases/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    login(client, volunteer)
    assert second_step(client, codes[0]).status_code == 422
    assert second_step(client, codes[1]).status_code == 302
    db.session.refresh(volunteer)
    assert services.recovery_codes_left(volunteer) == services.RECOVERY_CODE_COUNT - 2
    # Stored hashed: no recovery code appears in the database.
    assert not any(code in volunteer.recovery_codes for code in codes)
    details = " ".join(db.session.scalars(select(AuditRecord.detail)))
    assert not any(code in details for code in codes)


def test_wrong_codes_lock_the_account(app, client, volunteer, frozen):
    app.config.update(LOGIN_MAX_FAILURES=3)
    login(client, volunteer)
    enrol(client, frozen)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    login(client, volunteer)
    assert second_step(client, "000000").status_code == 422
    assert second_step(client, "111111").status_code == 422
    response = second_step(client, "222222")
    assert response.status_code == 302 and response.location == "/login"
    assert "Trop de tentatives" in client.get("/login").get_data(as_text=True)
    assert client.get("/cases/").status_code == 302


def test_org_requiring_2fa_forces_enrolment_before_any_case(client, org, volunteer, frozen):
    case = factories.case(org, volunteer)
    org.require_2fa = True
    db.session.commit()
    response = login(client, volunteer)
    assert response.location == "/login/2fa"
    assert client.get("/login/2fa").location == "/account/2fa/setup"
    for path in ("/cases/", f"/cases/{case.id}", f"/cases/{case.id}/edit", "/cases/new", "/account/", "/audit/",
                 "/search?q=x"):
        assert client.get(path).location == "/account/2fa/setup", path
    token = csrf_token(client, "/account/2fa/setup")
    response = client.post(f"/cases/{case.id}/events", data={"date": "2025-01-01", "type": "CCC", "csrf_token": token})
    assert response.location == "/account/2fa/setup"
    enrol(client, frozen)
    assert client.get(f"/cases/{case.id}").status_code == 200


def test_existing_session_gated_when_org_turns_2fa_on(client, org, volunteer):
    login(client, volunteer)
    assert client.get("/cases/").status_code == 200
    org.require_2fa = True
    db.session.commit()
    assert client.get("/cases/").location == "/account/2fa/setup"


def test_user_may_disable_2fa_only_if_org_does_not_require_it(client, org, volunteer, frozen):
    login(client, volunteer)
    enrol(client, frozen)
    token = csrf_token(client, "/account/")
    response = client.post("/account/2fa/disable", data={"password": "pas le bon mot de passe", "csrf_token": token})
    assert response.status_code == 422
    org.require_2fa = True
    db.session.commit()
    response = client.post("/account/2fa/disable", data={"password": PASSWORD, "csrf_token": token})
    assert response.status_code == 422 and "exige" in response.get_data(as_text=True)
    org.require_2fa = False
    db.session.commit()
    assert client.post("/account/2fa/disable", data={"password": PASSWORD, "csrf_token": token}).status_code == 302
    db.session.refresh(volunteer)
    assert volunteer.totp_secret is None


def test_regenerated_recovery_codes_replace_the_old_ones(client, volunteer, frozen):
    login(client, volunteer)
    _, old = enrol(client, frozen)
    response = client.post("/account/2fa/recovery-codes", data={"csrf_token": csrf_token(client, "/account/")})
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.get_data(as_text=True))
    assert len(new) == services.RECOVERY_CODE_COUNT and not set(new) & set(old)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    login(client, volunteer)
    assert second_step(client, old[0]).status_code == 422
    assert second_step(client, new[0]).status_code == 302


def test_qr_code_encodes_the_otpauth_uri(volunteer):
    secret = services.new_totp_secret()
    uri = services.totp_uri(volunteer, secret)
    assert uri.startswith("otpauth://totp/Constat:") and f"secret={secret}" in uri
    url = services.qr_data_url(uri)
    assert url.startswith("data:image/png;base64,")
