"""Issue 14, forms that validate once: every error at the first submit, an error summary linking
each field, messages that match the cause, numbers with spaces accepted and normalised."""

import io
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.cases.models import Case, Event
from app.cases.views import datetime_local
from app.core.clock import today
from app.extensions import db as _db
from tests import factories
from tests.cases.test_views import post_new
from tests.conftest import csrf_token


def summary_links(page: str) -> list[str]:
    block = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert block, "no error summary"
    return re.findall(r'<a href="#([^"]+)">', block.group(0))


def test_five_errors_in_one_submit(logged_in):
    future = (today() + timedelta(days=10)).isoformat()
    response = logged_in.post("/cases/new", data={
        "csrf_token": csrf_token(logged_in, "/cases/new"), "prefecture": "", "demarche": "", "status": "OUVERT",
        "primary_blocage": "API-ABS", "birth_date": future, "first_attempt": future, "email": "pas-une-adresse"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "5 erreurs à corriger" in page
    # In the order of the page: the blocage first, the person after.
    assert summary_links(page) == ["prefecture", "demarche", "first_attempt", "birth_date", "email"]
    assert "Choisissez la préfecture." in page and "Choisissez la démarche." in page
    assert page.count("Cette date ne peut pas être dans le futur.") >= 2
    assert "Adresse électronique invalide" in page
    assert _db.session.scalar(select(func.count(Case.id))) == 0


def test_numbers_with_spaces_are_accepted_and_normalised(logged_in):
    response = post_new(logged_in, numero_etranger="12 34 56 78 90", phone="06.12.34.56.78")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    person = _db.session.scalars(select(Case)).one().person
    assert person.numero_etranger == "1234567890"
    assert person.phone == "06 12 34 56 78"


def test_malformed_numbers_say_what_is_wrong(logged_in):
    page = post_new(logged_in, numero_etranger="12 34 5").get_data(as_text=True)
    assert "compte 10 chiffres (9 pour certains anciens numéros) : 5 saisis" in page
    page = post_new(logged_in, numero_etranger="AB12345678").get_data(as_text=True)
    assert "ne contient que des chiffres" in page


def test_event_empty_date_is_missing_and_all_errors_at_once(logged_in, volunteer, org):
    case = factories.case(org, volunteer)
    token = csrf_token(logged_in, f"/cases/{case.id}")
    response = logged_in.post(f"/cases/{case.id}/events", data={"csrf_token": token, "date": "", "type": "", "description": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Indiquez la date de l&#39;événement." in page or "Indiquez la date de l'événement." in page
    assert "utilisez le sélecteur" not in page
    assert summary_links(page) == ["date", "type"]
    # A future attempt and an impossible outcome: both named at the first submit.
    future = (today() + timedelta(days=5)).isoformat()
    page = logged_in.post(f"/cases/{case.id}/events", data={
        "csrf_token": token, "date": future, "type": "TENTATIVE", "outcome": "INJONCTION"}).get_data(as_text=True)
    assert summary_links(page) == ["date", "outcome"]
    assert _db.session.scalar(select(func.count(Event.id))) == 0


def test_upload_without_file_is_not_a_refused_piece(logged_in, volunteer, org):
    case = factories.case(org, volunteer)
    token = csrf_token(logged_in, f"/cases/{case.id}")
    response = logged_in.post(f"/cases/{case.id}/exhibits", data={"csrf_token": token, "file": (io.BytesIO(b""), "")},
                              content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<title>Aucun fichier choisi" in page and "Pièce refusée" not in page
    assert 'href="#exhibit-files"' in page


def test_lawyer_field_lists_lawyers_only(logged_in, org):
    lawyer = factories.user(org, "lawyer")
    coordinator = factories.user(org, "coordinator")
    page = logged_in.get("/cases/new").get_data(as_text=True)
    lawyer_select = re.search(r'<select[^>]*id="lawyer_id".*?</select>', page, re.S).group(0)
    assert lawyer.display_name in lawyer_select and coordinator.display_name not in lawyer_select
    volunteer_select = re.search(r'<select[^>]*id="volunteer_id".*?</select>', page, re.S).group(0)
    assert coordinator.display_name in volunteer_select


def test_blocage_help_comes_from_the_taxonomy(logged_in):
    page = logged_in.get("/cases/new").get_data(as_text=True)
    assert "Que recouvre chaque blocage ?" in page
    assert "La plateforme ne sait pas que la carte précédente a été rendue." in page


def test_times_shown_in_paris_time():
    assert datetime_local(datetime(2026, 1, 15, 13, 5)) == "15/01/2026 14:05"  # winter: UTC+1
    assert datetime_local(datetime(2026, 7, 15, 13, 5)) == "15/07/2026 15:05"  # summer: UTC+2
    assert datetime_local(None) == ""


def test_case_list_shows_prefecture_names_and_cards(logged_in, volunteer, org):
    factories.case(org, volunteer, prefecture="974")
    page = logged_in.get("/cases/").get_data(as_text=True)
    assert page.count("974 – La Réunion") >= 2  # the card and the table
    assert 'class="case-card"' in page


def test_journal_names_cases_by_reference_with_french_actions(client, org, volunteer):
    from tests.conftest import login

    case = factories.case(org, volunteer)
    factories.event(case, actor=volunteer)
    admin = factories.user(org, "admin")
    login(client, admin)
    client.get(f"/cases/{case.id}")
    page = client.get("/audit/").get_data(as_text=True)
    assert "Dossier consulté" in page and "Événement ajouté" in page
    assert f"dossier <span class=\"code\">{case.reference}</span>" in page
    assert f">dossier {case.id}<" not in page
    assert "Quand (heure de Paris)" in page


def test_keepalive_restarts_the_idle_clock(logged_in, client):
    page = logged_in.get("/cases/").get_data(as_text=True)
    seconds = int(re.search(r'data-idle-seconds="(\d+)"', page).group(1))
    assert 3500 <= seconds <= 3600  # SESSION_IDLE_MINUTES = 60
    token = csrf_token(logged_in, "/cases/")
    response = logged_in.post("/cases/session/keepalive", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["authenticated"] is True
    assert response.get_json()["idle_seconds"] >= 3590
    # Without a CSRF token it is refused; logged out it leads to the login page.
    assert logged_in.post("/cases/session/keepalive").status_code == 400
    from flask import current_app

    anonymous = current_app.test_client()
    assert anonymous.post("/cases/session/keepalive", headers={"X-CSRFToken": token}).status_code in (302, 400)
