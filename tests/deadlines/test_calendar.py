"""Calendar feeds: a secret per-user address shown in « Mon compte », served without a session,
read back with the `icalendar` package; wrong, revoked or foreign tokens answer 404."""

from __future__ import annotations

import re
from datetime import date, datetime

import icalendar
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.deadlines import calendar
from app.extensions import db
from tests import factories
from tests.conftest import csrf_token, login
from tests.deadlines.helpers import challenge_end, silent_deposit_case


def feed_path(client) -> str:
    page = client.get("/account/").get_data(as_text=True)
    match = re.search(r'value="https?://[^"/]+(/calendar/[^"]+\.ics)"', page)
    assert match, "no calendar address in « Mon compte »"
    return match.group(1)


def test_account_shows_a_feed_that_works_without_a_session_and_names_no_one(app, org, volunteer):
    case = silent_deposit_case(org, volunteer)
    client = app.test_client()
    login(client, volunteer)
    path = feed_path(client)
    assert feed_path(client) == path  # stable from one visit to the next
    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar" and "charset=utf-8" in response.content_type
    body = response.get_data()
    parsed = icalendar.Calendar.from_ical(body)
    events = [c for c in parsed.walk("VEVENT")]
    assert len(events) == 1
    event = events[0]
    assert str(event["SUMMARY"]) == f"{case.reference} : Fin du délai de recours"
    assert event.decoded("DTSTART") == challenge_end()
    assert (event.decoded("DTEND") - event.decoded("DTSTART")).days == 1
    assert str(event["UID"]) == f"{case.id}-RECOURS-{challenge_end():%Y%m%d}@constat"
    assert f"/cases/{case.id}" in str(event["URL"])
    text = body.decode("utf-8")
    for secret in ("Traoré", "Awa", "1234567890"):
        assert secret not in text
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    token = path.split("/")[-1].removesuffix(".ics")
    feed_audits = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "calendar.feed")).all()
    assert len(feed_audits) == 1 and feed_audits[0].actor_id == volunteer.id
    assert not db.session.scalars(select(AuditRecord).where(AuditRecord.detail.contains(token[-20:]))).all()


def test_wrong_revoked_and_foreign_tokens_answer_404(app, org, other_org, volunteer):
    silent_deposit_case(org, volunteer)
    client = app.test_client()
    login(client, volunteer)
    path = feed_path(client)
    token = path.split("/")[-1].removesuffix(".ics")
    user_id, mac = token.split("-", 1)
    stranger = factories.user(other_org, "admin")
    for wrong in (f"{user_id}-{'A' * 43}", f"{stranger.id}-{mac}", f"{user_id}-{mac[:-1]}", "nimporte-quoi",
                  f"{user_id}-{mac}x", "0-" + mac):
        assert app.test_client().get(f"/calendar/{wrong}.ics").status_code == 404, wrong
    # Regenerate: the old address stops, the new one works.
    client.post("/account/calendar/regenerate", data={"csrf_token": csrf_token(client, "/account/")})
    assert app.test_client().get(path).status_code == 404
    new_path = feed_path(client)
    assert new_path != path and app.test_client().get(new_path).status_code == 200
    # Revoke: no address at all until one is created again.
    response = client.post("/account/calendar/revoke", data={"csrf_token": csrf_token(client, "/account/")})
    assert response.status_code == 302
    assert app.test_client().get(new_path).status_code == 404
    page = client.get("/account/").get_data(as_text=True)
    assert ".ics" not in page and "Créer une adresse d'agenda" in page
    # A deactivated member's feed stops too.
    client.post("/account/calendar/regenerate", data={"csrf_token": csrf_token(client, "/account/")})
    last = feed_path(client)
    volunteer.active = False
    db.session.commit()
    assert app.test_client().get(last).status_code == 404


def test_admins_feed_holds_the_cases_nobody_follows(app, org):
    admin = factories.user(org, "admin")
    nobody = silent_deposit_case(org, None)
    client = app.test_client()
    login(client, admin)
    body = app.test_client().get(feed_path(client)).get_data(as_text=True)
    assert nobody.reference in body


def test_text_is_escaped_and_folded_per_rfc_5545():
    tricky = ("Fin du délai ; recours, motifs \\ et suite\nligne deux — « guillemets » " + "é" * 80)
    body = calendar.ics([calendar.CalendarEvent("1-X-20270101@constat", date(2027, 1, 1), "LYO-2026-0001 : Fin",
                                                tricky, "https://constat.test/cases/1")],
                        datetime(2026, 12, 2, 10, 0, 0))
    lines = body.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    for line in lines:
        line.decode("utf-8")  # never a UTF-8 character cut in two (raises otherwise)
    event = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["DESCRIPTION"]) == tricky
    assert event.decoded("DTSTART") == date(2027, 1, 1)


def test_token_is_bound_to_user_key_and_secret():
    token = calendar.token_for(7, "cle", "secret")
    assert calendar.user_id_of(token) == 7
    assert calendar.token_matches(token, 7, "cle", "secret")
    assert not calendar.token_matches(token, 7, "autre", "secret")
    assert not calendar.token_matches(token, 7, "cle", "autre secret")
    assert not calendar.token_matches(token, 7, "", "secret")
    assert calendar.user_id_of("7-court") is None


def test_gunicorn_access_log_masks_the_token():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from app.deadlines.access_log import Logger

    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/calendar/12-secretsecret.ics", "PATH_INFO": "/calendar/12-secretsecret.ics",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": ""}
    atoms = Logger(Config()).atoms(SimpleNamespace(status="200 OK", headers=[], sent=10), SimpleNamespace(headers=[]),
                                   environ, timedelta(milliseconds=5))
    assert "secret" not in repr(atoms)
    assert atoms["r"] == "GET /calendar/***.ics HTTP/1.1"
