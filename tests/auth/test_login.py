"""Login: same message for unknown e-mail and wrong password, per-account throttling, fresh session."""

from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth import services
from app.core.clock import utcnow
from app.extensions import db
from tests.conftest import PASSWORD, csrf_token, login

GENERIC = "Adresse électronique ou mot de passe incorrect."


def post_login(client, email, password):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)})


def test_unknown_email_and_wrong_password_same_french_message(client, volunteer):
    wrong = post_login(client, volunteer.email, "pas le bon mot de passe")
    unknown = post_login(client, "personne@nulle-part.test", "pas le bon mot de passe")
    assert wrong.status_code == unknown.status_code == 200
    assert GENERIC in wrong.get_data(as_text=True) and GENERIC in unknown.get_data(as_text=True)
    # The pages differ only by the CSRF token: nothing tells which accounts exist.
    strip = lambda r: r.get_data(as_text=True).split("csrf_token")[0]  # noqa: E731
    assert strip(wrong) == strip(unknown)


def test_account_locked_after_max_failures_even_with_right_password(app, client, volunteer):
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_LOCK_MINUTES=15)
    for _ in range(3):
        assert GENERIC in post_login(client, volunteer.email, "mauvais mot de passe!").get_data(as_text=True)
    db.session.refresh(volunteer)
    assert volunteer.locked_until is not None and volunteer.locked_until > utcnow()
    response = post_login(client, volunteer.email, PASSWORD)
    page = response.get_data(as_text=True)
    # The locked account gets the generic answer: it does not confirm that the account exists.
    assert response.status_code == 200 and GENERIC in page and "Trop de tentatives" not in page
    assert client.get("/cases/").status_code == 302  # still logged out
    actions = db.session.scalars(select(AuditRecord.action)).all()
    assert actions.count("auth.login_failed") == 3 and "auth.throttled" in actions and "auth.locked" in actions


def test_lock_expires(app, client, volunteer):
    volunteer.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert post_login(client, volunteer.email, PASSWORD).status_code == 302


def test_unknown_email_failures_do_not_lock_anyone(app, client, volunteer):
    app.config.update(LOGIN_MAX_FAILURES=2)
    for _ in range(3):
        post_login(client, "inconnu@nulle-part.test", "mauvais mot de passe!")
    db.session.refresh(volunteer)
    assert volunteer.locked_until is None


def test_success_resets_failure_count(app, client, volunteer):
    app.config.update(LOGIN_MAX_FAILURES=3)
    post_login(client, volunteer.email, "mauvais mot de passe!")
    post_login(client, volunteer.email, "mauvais mot de passe!")
    login(client, volunteer)
    db.session.refresh(volunteer)
    assert volunteer.failed_logins == 0 and volunteer.locked_until is None


def test_deactivated_account_cannot_log_in(client, volunteer):
    volunteer.active = False
    db.session.commit()
    assert GENERIC in post_login(client, volunteer.email, PASSWORD).get_data(as_text=True)


def test_new_session_at_login_nothing_carried_over(client, volunteer):
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
    token = csrf_token(client)
    before = client.get_cookie("constat_session").value
    with client.session_transaction() as sess:
        csrf_secret = sess["csrf_token"]
    response = client.post("/login", data={"email": volunteer.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert client.get_cookie("constat_session").value != before
    assert client.get("/cases/").status_code == 200
    with client.session_transaction() as sess:
        assert "planted" not in sess
        # The pre-login CSRF secret does not survive either.
        assert sess.get("csrf_token") != csrf_secret
        assert sess["_user_id"] == f"{volunteer.id}:{volunteer.session_version}"


def test_open_redirect_refused(client, volunteer):
    token = csrf_token(client)
    response = client.post("/login?next=//evil.example/x",
                           data={"email": volunteer.email, "password": PASSWORD, "csrf_token": token})
    assert response.location == "/cases/"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})
    response = client.post("/login?next=/cases/?status=OUVERT",
                           data={"email": volunteer.email, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.location == "/cases/?status=OUVERT"


def test_password_too_long_refused_before_hashing(volunteer):
    assert services.verify_password(volunteer, "x" * (services.MAX_PASSWORD + 1)) is False
    assert "256" in services.password_problem("x" * 300)


def test_logout_is_post_only(logged_in):
    assert logged_in.get("/logout").status_code == 405
    assert logged_in.get("/cases/").status_code == 200
    logged_in.post("/logout", data={"csrf_token": csrf_token(logged_in, "/cases/")})
    assert logged_in.get("/cases/").status_code == 302
