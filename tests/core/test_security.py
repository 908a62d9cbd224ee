"""Security headers on every response (errors and static files included), generic error pages,
production configuration refusals, idle timeout and absolute session lifetime."""

from datetime import timedelta

import pytest

from app import create_app
from app import config as app_config
from app.config import Config
from app.core import security
from app.core.clock import utcnow
from tests import factories
from tests.conftest import csrf_token, login

SECRET_MARKER = "trace-secrète-4f1c"


def assert_headers(response, page=True):
    h = response.headers
    csp = h["Content-Security-Policy"]
    for directive in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "script-src 'self'"):
        assert directive in csp, (response.request.path, directive)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    if page:
        assert h["Cache-Control"] == "no-store", response.request.path
    assert "Strict-Transport-Security" not in h  # plain HTTP here


@pytest.fixture
def crashing_app(tmp_path):
    """An app with a test-only route that raises, exceptions not propagated (as in production)."""
    app = create_app(app_config.testing_config(tmp_path / "crash"))

    @app.route("/_test/crash")
    def crash():
        raise RuntimeError(SECRET_MARKER)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        from app.extensions import db

        db.create_all()
        factories.load_reference_data()
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_headers_on_pages_redirects_and_errors(app, client, volunteer):
    assert_headers(client.get("/login"))
    assert_headers(client.get("/cases/"))  # 302 to login
    assert_headers(client.get("/healthz"))
    assert_headers(client.get("/nulle-part"))  # 404 anonymous
    assert_headers(client.post("/login", data={}))  # 400 CSRF
    login(client, volunteer)
    for path, status in (("/cases/", 200), ("/cases/999999", 404), ("/logout", 405), ("/account/", 200)):
        response = client.get(path)
        assert response.status_code == status
        assert_headers(response)


def test_static_files_carry_headers_too(client):
    response = client.get("/static/constat.css")
    assert response.status_code == 200
    assert_headers(response, page=False)
    assert response.headers.get("Cache-Control") != "no-store"  # no personal data: may be cached
    response.close()


def test_413_has_headers_and_a_french_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    response = client.post("/login", data={"email": "x" * 5000, "password": "y", "csrf_token": "z"})
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)
    assert_headers(response)


def test_500_is_generic_with_headers(crashing_app):
    client = crashing_app.test_client()
    login(client, factories.user(factories.organisation("assoc-crash", "CR"), "volunteer"))
    response = client.get("/_test/crash")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Erreur interne" in page and "rien n'a été enregistré" in page.replace("&#39;", "'")
    assert SECRET_MARKER not in page and "Traceback" not in page and "RuntimeError" not in page
    assert_headers(response)


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    response = client.get("/login", base_url="https://constat.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("env,message", [
    ({"FLASK_DEBUG": "1", "SECRET_KEY": "s" * 64}, "debug"),
    ({}, "SECRET_KEY"),
    ({"SECRET_KEY": ""}, "SECRET_KEY"),
])
def test_production_refuses_unsafe_settings(tmp_path, monkeypatch, env, message):
    monkeypatch.setenv("CONSTAT_ENV", "production")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=message):
        Config().finalise()
    with pytest.raises(RuntimeError, match=message):
        create_app()
    assert not (tmp_path / "secret_key").exists()  # no key generated behind the operator's back


def test_production_starts_with_a_key_and_no_debug(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTAT_ENV", "production")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    app = create_app(Config(START_WORKERS=False))
    assert not app.debug and app.config["SESSION_COOKIE_SECURE"] is True


# --- session lifetime ------------------------------------------------------------------------

def shift(monkeypatch, delta):
    monkeypatch.setattr(security, "utcnow", lambda: utcnow() + delta)


def test_idle_timeout_with_a_moved_clock(app, logged_in, monkeypatch):
    app.config["SESSION_IDLE_MINUTES"] = 30
    shift(monkeypatch, timedelta(minutes=29))
    assert logged_in.get("/cases/").status_code == 200  # and seen_at moves on
    shift(monkeypatch, timedelta(minutes=29 + 29))
    assert logged_in.get("/cases/").status_code == 200
    shift(monkeypatch, timedelta(minutes=29 + 29 + 31))
    response = logged_in.get("/cases/")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert "Votre session a expiré" in logged_in.get(response.location).get_data(as_text=True)
    assert logged_in.get("/cases/").status_code == 302


def test_absolute_lifetime_even_when_active(app, logged_in, monkeypatch):
    app.config.update(SESSION_IDLE_MINUTES=60, SESSION_MAX_HOURS=2)
    for minutes in range(50, 120, 50):  # active every 50 minutes: never idle
        shift(monkeypatch, timedelta(minutes=minutes))
        assert logged_in.get("/cases/").status_code == 200
    shift(monkeypatch, timedelta(minutes=121))
    assert logged_in.get("/cases/").status_code == 302


def test_manipulated_session_cookie(app, logged_in):
    # Times live on the server: a cookie claiming a recent start changes nothing.
    with logged_in.session_transaction() as sess:
        sess["started_at"] = sess["seen_at"] = utcnow().isoformat()
        sess["sid"] = "x" * 43  # a token of the right shape that no login issued
    assert logged_in.get("/cases/").status_code == 302
    login(logged_in, factories.user(factories.organisation("assoc-x", "AX"), "volunteer"))
    with logged_in.session_transaction() as sess:
        del sess["sid"]  # a session that did not come through /login
    assert logged_in.get("/cases/").status_code == 302


def test_csrf_token_required_on_posts(logged_in):
    response = logged_in.post("/account/profile", data={"full_name": "x"})
    assert response.status_code == 400 and "Formulaire expiré" in response.get_data(as_text=True)
    assert logged_in.post("/account/profile", data={"full_name": "x", "csrf_token": csrf_token(logged_in, "/account/")}
                          ).status_code == 302


def test_case_forms_ignore_posted_org_and_reference(app, logged_in, volunteer, other_org):
    from sqlalchemy import select

    from app.cases.models import Case
    from app.extensions import db

    data = {"prefecture": "69", "demarche": "RENOUV", "status": "OUVERT", "primary_blocage": "API-ABS",
            "org_id": str(other_org.id), "reference": "PAR-2025-9999", "id": "77", "version": "",
            "csrf_token": csrf_token(logged_in, "/cases/new")}
    assert logged_in.post("/cases/new", data=data).status_code == 302
    case = db.session.scalar(select(Case))
    assert case.org_id == volunteer.org_id and case.reference.startswith("LYO-") and case.id != 77
    data.update(csrf_token=csrf_token(logged_in, f"/cases/{case.id}/edit"), version=str(case.version))
    assert logged_in.post(f"/cases/{case.id}/edit", data=data).status_code == 302
    db.session.refresh(case)
    assert case.org_id == volunteer.org_id and case.reference.startswith("LYO-")


def test_login_works_behind_an_https_proxy(app, volunteer):
    """Behind a TLS proxy (TRUSTED_PROXIES=1, X-Forwarded-Proto: https) Flask-WTF demands a
    same-site Referer on form posts: the pages' Referrer-Policy must let browsers send it."""
    app.config["TRUSTED_PROXIES"] = 1
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "constat.example"}
    page = client.get("/login", headers=https)
    assert page.headers["Referrer-Policy"] == "same-origin"  # browsers send the Referer to this site
    token = csrf_token(client)
    posted = client.post("/login", data={"email": volunteer.email, "password": factories.PASSWORD,
                                         "csrf_token": token},
                         headers={**https, "Referer": "https://constat.example/login"})
    assert posted.status_code == 302
