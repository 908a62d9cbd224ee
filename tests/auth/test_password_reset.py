"""Password reset by e-mail (issue 14), against a real SMTP server (aiosmtpd): same answer
whether the address exists or not, a signed link that expires and works once, sessions ended,
requests throttled."""

from __future__ import annotations

import re
import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth import reset
from app.extensions import db
from tests.conftest import csrf_token, login
from tests.deadlines.conftest import Recorder, free_port

NEW = "une nouvelle phrase de passe"


@pytest.fixture
def mailbox(app):
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="Constat <no-reply@constat.test>",
                      BASE_URL="http://constat.test")
    try:
        yield handler
    finally:
        controller.stop()


def wait_for(handler, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(handler.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return handler.messages


def ask(client, email):
    return client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")})


def link_in(message) -> str:
    return re.search(r"http://constat\.test(/password/reset/\S+)", message.text).group(1)


def test_reset_by_mail_once_and_sessions_end(app, client, volunteer, mailbox):
    other = app.test_client()
    login(other, volunteer)
    known, unknown = ask(client, volunteer.email), ask(client, "personne@nulle-part.test")
    assert known.status_code == unknown.status_code == 302
    assert client.get(known.location).get_data(as_text=True).count("Si un compte actif existe") == 1
    messages = wait_for(mailbox, 1)
    time.sleep(0.3)
    assert len(messages) == 1 and messages[0].rcpt_tos == [volunteer.email]  # nothing to unknown addresses
    path = link_in(messages[0])
    assert volunteer.password_hash[-20:] not in messages[0].text
    page = client.get(path)
    assert page.status_code == 200 and "Nouveau mot de passe" in page.get_data(as_text=True)
    weak = client.post(path, data={"new_password": "court", "confirm": "court", "csrf_token": csrf_token(client, path)})
    assert weak.status_code == 422
    done = client.post(path, data={"new_password": NEW, "confirm": NEW, "csrf_token": csrf_token(client, path)})
    assert done.status_code == 302
    assert other.get("/cases/").status_code == 302  # the sessions opened before are closed
    # Single use: the same link is dead now.
    assert client.get(path).status_code == 404
    login(client, volunteer, NEW)
    actions = db.session.scalars(select(AuditRecord.action)).all()
    assert "auth.password_reset" in actions and actions.count("auth.password_reset_requested") == 2


def test_link_expires_and_forged_links_fail(app, volunteer):
    token = reset.make_token(volunteer, app.config["SECRET_KEY"])
    assert reset.user_for_token(token, app.config["SECRET_KEY"], 30) == volunteer
    assert reset.user_for_token(token, "une-autre-cle" * 4, 30) is None
    assert reset.user_for_token(token[:-2] + "xx", app.config["SECRET_KEY"], 30) is None
    time.sleep(1.1)
    assert reset.user_for_token(token, app.config["SECRET_KEY"], 0) is None  # expired
    volunteer.active = False
    assert reset.user_for_token(token, app.config["SECRET_KEY"], 30) is None


def test_requests_are_throttled(app, client, volunteer, mailbox):
    for _ in range(5):
        ask(client, volunteer.email)
    time.sleep(1.0)
    assert len(wait_for(mailbox, reset.MAX_MAILS_PER_ACCOUNT)) == reset.MAX_MAILS_PER_ACCOUNT


def test_without_smtp_the_page_says_so(client, volunteer):
    page = client.get("/password/forgot").get_data(as_text=True)
    assert "n'est pas configuré" in page
    assert "Mot de passe oublié" in client.get("/login").get_data(as_text=True)
