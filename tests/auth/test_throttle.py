"""Limits that hold (issue 16): each attempt is reserved before the password is checked, in the
database shared by every worker; per-address and installation-wide budgets; the same answer and
about the same time for locked, unknown and wrong; lockouts audited with the source address."""

import json
import threading
import time

import pyotp
import pytest
from sqlalchemy import select

from app import create_app
from app.audit.models import AuditRecord
from app.auth import services
from app import config as app_config
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, csrf_token, login

GENERIC = services.GENERIC_LOGIN_ERROR


@pytest.fixture
def checks(monkeypatch):
    """Counts the real password checks (argon2 against the account's hash)."""
    seen = {"n": 0}
    lock = threading.Lock()
    real = services.verify_password

    def counting(user, password):
        with lock:
            seen["n"] += 1
        return real(user, password)

    monkeypatch.setattr(services, "verify_password", counting)
    return seen


def client_from(app, ip):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def post(client, email, password, token=None):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token or csrf_token(client)})


def records(action):
    return [r for r in db.session.scalars(select(AuditRecord).where(AuditRecord.action == action))]


def test_24_parallel_wrong_passwords_check_at_most_5(app, volunteer, checks):
    """24 threads, each its own connection to the real SQLite file, released together."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        pytest.skip("the SQLite file case; the processes test below runs on every database")
    clients = [client_from(app, f"198.51.100.{i}") for i in range(24)]
    tokens = [csrf_token(c) for c in clients]
    barrier = threading.Barrier(24)
    answers = []

    def attempt(i):
        with app.app_context():  # the client's own context ends before it expires its session
            barrier.wait()
            answers.append(post(clients[i], volunteer.email, f"mauvais mot de passe {i}", tokens[i]))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 24 and all(GENERIC in r.get_data(as_text=True) for r in answers)
    assert checks["n"] <= 5, checks["n"]
    db.session.refresh(volunteer)
    assert volunteer.locked_until is not None
    assert len(records("auth.locked")) == 1 and len(records("auth.throttled")) >= 19


def test_per_address_limit_across_accounts(app, checks):
    app.config.update(THROTTLE_IP_MAX_FAILURES=20)
    client = client_from(app, "203.0.113.7")
    token = csrf_token(client)
    for i in range(25):  # 25 different (unknown) accounts from one address
        assert GENERIC in post(client, f"personne{i}@ailleurs.test", "mauvais mot de passe", token).get_data(as_text=True)
    assert checks["n"] == 20
    throttled = records("auth.throttled")
    assert len(throttled) == 5 and all(json.loads(r.detail)["ip"] == "203.0.113.7" for r in throttled)
    # Another address is not affected.
    other = client_from(app, "203.0.113.8")
    post(other, "personne@ailleurs.test", "mauvais mot de passe")
    assert checks["n"] == 21


def test_installation_wide_limit(app, checks):
    app.config.update(THROTTLE_GLOBAL_MAX_FAILURES=3)
    for i in range(5):
        post(client_from(app, f"192.0.2.{i}"), f"x{i}@ailleurs.test", "mauvais mot de passe")
    assert checks["n"] == 3


def test_a_success_gives_the_address_budget_back(app, volunteer):
    app.config.update(THROTTLE_IP_MAX_FAILURES=3)
    client = client_from(app, "203.0.113.9")
    for _ in range(10):  # a shared office address: people who log in correctly never use it up
        login(client, volunteer)
        client.post("/logout", data={"csrf_token": csrf_token(client, "/cases/")})


def test_locked_unknown_and_wrong_answer_alike(app, client, volunteer):
    app.config.update(LOGIN_MAX_FAILURES=3, THROTTLE_IP_MAX_FAILURES=1000)
    token = csrf_token(client)

    def timed(email, password):
        started = time.perf_counter()
        page = post(client, email, password, token).get_data(as_text=True)
        return time.perf_counter() - started, page.split("csrf_token")[0]

    wrong_time, wrong_page = min(timed(volunteer.email, "mauvais mot de passe") for _ in range(1))
    unknown_time, unknown_page = timed("personne@nulle-part.test", "mauvais mot de passe")
    for _ in range(3):
        timed(volunteer.email, "mauvais mot de passe")
    locked_times = [timed(volunteer.email, PASSWORD) for _ in range(3)]
    assert unknown_page == wrong_page and all(page == wrong_page for _, page in locked_times)
    # The locked answer does the same argon2 work (it was 9 ms against ~210 ms).
    assert min(t for t, _ in locked_times) > 0.4 * wrong_time, (locked_times, wrong_time)
    locked = records("auth.locked")
    assert len(locked) == 1 and json.loads(locked[0].detail)["ip"] == "127.0.0.1"


def test_unknown_address_failure_reaches_the_association_with_the_source(app, client, org, volunteer):
    post(client, f"inconnu@{org.slug}.test", "mauvais mot de passe")
    failed = records("auth.login_failed")[-1]
    assert failed.org_id == org.id and json.loads(failed.detail)["ip"] == "127.0.0.1"
    assert "inconnu@" not in failed.detail  # the address typed is not kept


@pytest.mark.parametrize("path, field", [("/account/password", "current_password"), ("/account/2fa/disable", "password")])
def test_current_password_checks_are_counted(app, client, volunteer, checks, path, field):
    app.config.update(LOGIN_MAX_FAILURES=5)
    login(client, volunteer)
    if path.endswith("disable"):
        volunteer.totp_secret = services.encrypt_secret(pyotp.random_base32())
        db.session.commit()
        from app.auth.models import UserSession
        for row in db.session.scalars(select(UserSession)):
            row.second_factor_passed = True
        db.session.commit()
    checks["n"] = 0
    data = {field: "mauvais mot de passe", "new_password": "une nouvelle phrase secrète",
            "confirm": "une nouvelle phrase secrète"}
    for _ in range(8):
        response = client.post(path, data=data | {"csrf_token": csrf_token(client, "/account/")})
        assert response.status_code == 422
    assert checks["n"] == 5
    db.session.refresh(volunteer)
    assert volunteer.locked_until is not None
    assert "réessayez dans" in response.get_data(as_text=True)


def test_second_factor_codes_are_reserved_too(app, client, volunteer):
    app.config.update(LOGIN_MAX_FAILURES=3)
    volunteer.totp_secret = services.encrypt_secret(pyotp.random_base32())
    db.session.commit()
    login(client, volunteer)
    for _ in range(2):
        assert client.post("/login/2fa", data={"code": "000000", "csrf_token": csrf_token(client, "/login/2fa")}
                           ).status_code == 422
    response = client.post("/login/2fa", data={"code": "000000", "csrf_token": csrf_token(client, "/login/2fa")})
    assert response.status_code == 302 and response.location.startswith("/login")


def test_x_forwarded_for_trusted_only_behind_a_configured_proxy(tmp_path):
    for proxies, expected, hsts in ((0, "127.0.0.1", False), (1, "203.0.113.50", True)):
        app = create_app(app_config.testing_config(tmp_path / str(proxies), TRUSTED_PROXIES=proxies))
        with app.app_context():
            db.create_all()
            factories.load_reference_data()
            db.session.commit()
            client = app.test_client()
            headers = {"X-Forwarded-For": "203.0.113.50", "X-Forwarded-Proto": "https",
                       "Referer": "https://localhost/login"}  # Flask-WTF checks it over https
            page = client.get("/login", headers=headers)
            assert ("Strict-Transport-Security" in page.headers) is hsts
            token = csrf_token(client) if not hsts else None
            if hsts:  # the CSRF cookie is Secure-less here; read the token from the https page
                import re
                token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
            client.post("/login", headers=headers, data={"email": "x@y.test", "password": "mauvais mot de passe",
                                                         "csrf_token": token})
            # The latest: on PostgreSQL both apps share one database, so the first run's record is there too.
            failed = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "auth.login_failed")
                                       .order_by(AuditRecord.seq.desc()).limit(1))
            assert failed is not None and json.loads(failed.detail)["ip"] == expected
            db.session.remove()
            db.engine.dispose()


WORKER = r"""
import sys, time
from pathlib import Path
from app import create_app
from app.config import testing_config
from app.auth import services
data_dir, email, start_at, ip = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
app = create_app(testing_config(Path(data_dir)))
checked = 0
real = services.verify_password
def counting(user, password):
    global checked
    checked += 1
    return real(user, password)
services.verify_password = counting
with app.app_context():
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(6):
        services.authenticate(email, f"mauvais {ip} {i}", max_failures=5, lock_minutes=15, ip=ip)
        from app.extensions import db
        db.session.commit()
print("CHECKED", checked)
"""


def test_several_processes_share_the_budget(app, volunteer):
    """4 processes × 6 wrong passwords, each process its own connection to the SQLite file."""
    import subprocess
    import sys

    from tests.backup.conftest import ROOT

    data_dir = app.config["DATA_DIR"]
    start_at = time.time() + 6
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(data_dir), volunteer.email, str(start_at),
                               f"192.0.2.{i}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    outputs = [p.communicate(timeout=180) for p in procs]
    counts = [int(out.split("CHECKED ")[1].split()[0]) for out, err in outputs if "CHECKED" in out]
    assert len(counts) == 4, [err[-500:] for _, err in outputs]
    assert sum(counts) <= 5, counts
    db.session.refresh(volunteer)
    assert volunteer.locked_until is not None
