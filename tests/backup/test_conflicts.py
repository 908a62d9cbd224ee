"""Two people saving the same case: the second is told, and loses nothing they typed."""

from __future__ import annotations

import html
import re

from sqlalchemy import create_engine, event, update
from sqlalchemy.orm import Session

from app.cases.models import Case
from app.extensions import db as _db
from tests import factories
from tests.conftest import login

VERSION = re.compile(r'name="version" type="hidden" value="(\d+)"')
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def open_form(client, case_id):
    page = client.get(f"/cases/{case_id}/edit").get_data(as_text=True)
    return VERSION.search(page).group(1), TOKEN.search(page).group(1)


def form(version, token, **typed):
    data = {"prefecture": "69", "demarche": "RENOUV", "status": "OUVERT", "primary_blocage": "API-ABS",
            "last_name": "Diallo", "first_name": "Amadou", "version": version, "csrf_token": token}
    data.update(typed)
    return data


BOB_TYPED = {"narrative": "Long récit tapé par Bob : trois rendez-vous manqués, à ne pas perdre.",
             "titre_demande": "Carte pluriannuelle salarié", "phone": "0611223344",
             "anef_number": "ANEF-BOB-77", "consequences": ["EMPLOI"], "other_blocages": ["ACC-AUTH"]}


def assert_keeps_bob_input(body: str) -> None:
    text = html.unescape(body)
    for name in ("narrative", "titre_demande", "phone", "anef_number"):
        assert BOB_TYPED[name] in text, name
    assert re.search(r'<input[^>]*checked[^>]*value="EMPLOI"|<input[^>]*value="EMPLOI"[^>]*checked', body)
    assert re.search(r'<input[^>]*checked[^>]*value="ACC-AUTH"|<input[^>]*value="ACC-AUTH"[^>]*checked', body)


def two_editors(client, org):
    alice, bob = factories.user(org, "volunteer"), factories.user(org, "lawyer")
    case = factories.case(org, alice, narrative="Récit initial")
    bob_client = client.application.test_client()
    login(client, alice)
    login(bob_client, bob)
    return case, bob_client


def test_second_save_is_refused_with_everything_typed_kept_then_succeeds(client, org):
    case, bob_client = two_editors(client, org)
    alice_version, alice_token = open_form(client, case.id)
    bob_version, bob_token = open_form(bob_client, case.id)
    assert client.post(f"/cases/{case.id}/edit",
                       data=form(alice_version, alice_token, narrative="Récit d'Alice")).status_code == 302

    refused = bob_client.post(f"/cases/{case.id}/edit", data=form(bob_version, bob_token, **BOB_TYPED))
    assert refused.status_code == 409
    body = refused.get_data(as_text=True)
    assert "modifié par quelqu&#39;un d&#39;autre" in body
    assert_keeps_bob_input(body)
    _db.session.expire_all()
    saved = _db.session.get(Case, case.id)
    assert saved.narrative == "Récit d'Alice" and saved.titre_demande == ""
    # The re-rendered form carries the current version: sending it again (after reading) saves Bob's text.
    new_version = VERSION.search(body).group(1)
    assert int(new_version) == saved.version > int(bob_version)
    again = bob_client.post(f"/cases/{case.id}/edit", data=form(new_version, TOKEN.search(body).group(1), **BOB_TYPED))
    assert again.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Case, case.id).narrative == BOB_TYPED["narrative"]


def test_a_save_racing_past_the_version_check_is_refused_too(app, client, org):
    """Alice commits between Bob's version check and Bob's write: the version column in the
    UPDATE catches it, and Bob still gets the form back with his input."""
    case, bob_client = two_editors(client, org)
    bob_version, bob_token = open_form(bob_client, case.id)
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    raced = []

    def alice_commits_meanwhile(session, flush_context, instances):
        if raced or not any(isinstance(o, Case) for o in session.dirty):
            return
        raced.append(True)
        with Session(other) as alice:
            alice.execute(update(Case).where(Case.id == case.id)
                          .values(narrative="Récit d'Alice", version=Case.version + 1))
            alice.commit()

    event.listen(Session, "before_flush", alice_commits_meanwhile)
    try:
        response = bob_client.post(f"/cases/{case.id}/edit", data=form(bob_version, bob_token, **BOB_TYPED))
    finally:
        event.remove(Session, "before_flush", alice_commits_meanwhile)
        other.dispose()
    assert raced
    assert response.status_code == 409
    assert_keeps_bob_input(response.get_data(as_text=True))
    _db.session.expire_all()
    assert _db.session.get(Case, case.id).narrative == "Récit d'Alice"
