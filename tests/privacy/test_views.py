"""Privacy pages through the test client: who may do what, French messages, nothing personal in the audit."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import date

import pytest
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth.models import Organisation
from app.cases.models import Case
from app.evidence.storage import store
from tests import factories
from tests.conftest import csrf_token, login
from tests.privacy.helpers import exhibit, png_bytes
from tests.privacy.test_services import assert_no_personal_values, full_case


@pytest.fixture
def case(org, volunteer):
    return full_case(org, volunteer)


def as_role(client, org, role):
    user = factories.user(org, role)
    login(client, user)
    return user


def post(client, case, path, **data):
    data["csrf_token"] = csrf_token(client, f"/cases/{case.id}")
    return client.post(f"/cases/{case.id}/{path}", data=data)


def test_case_page_shows_the_privacy_section_by_role(client, org, case):
    as_role(client, org, "admin")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="donnees-personnelles"' in page
    for action in ("consent/withdraw", "legal-hold", "person-export.zip", "erase"):
        assert f"/cases/{case.id}/{action}" in page


def test_coordinator_sees_neither_export_nor_erasure(client, org, case):
    as_role(client, org, "coordinator")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="donnees-personnelles"' in page and "recueilli le 10/01/2025" in page
    for action in ("consent/withdraw", "legal-hold", "person-export.zip", "erase"):
        assert f"/cases/{case.id}/{action}" not in page


def test_volunteer_records_a_withdrawal(client, db, org, case, volunteer):
    login(client, volunteer)
    response = post(client, case, "consent/withdraw", withdrawn_on=date.today().isoformat(), confirm="1")
    assert response.status_code == 302
    assert db.session.get(Case, case.id).person.consent_withdrawn_at == date.today()
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Retrait du consentement enregistré" in page and "Retiré le" in page
    assert_no_personal_values(db)


def test_withdrawal_with_a_future_date_is_refused_in_french(client, db, org, case, volunteer):
    login(client, volunteer)
    response = post(client, case, "consent/withdraw", withdrawn_on="2999-01-01", confirm="1")
    assert response.status_code == 302
    assert "ne peut pas être dans le futur" in client.get(response.location).get_data(as_text=True)
    assert db.session.get(Case, case.id).person.consent_withdrawn_at is None


def test_coordinator_cannot_record_a_withdrawal(client, db, org, case):
    as_role(client, org, "coordinator")
    assert post(client, case, "consent/withdraw", withdrawn_on="2025-06-01").status_code == 403
    assert db.session.get(Case, case.id).person.consent_withdrawn_at is None


@pytest.mark.parametrize(("role", "status"), [("lawyer", 302), ("admin", 302), ("volunteer", 403), ("coordinator", 403)])
def test_legal_hold_is_for_lawyers_and_admins(client, db, org, case, role, status):
    as_role(client, org, role)
    assert post(client, case, "legal-hold", hold="1").status_code == status
    assert db.session.get(Case, case.id).legal_hold is (status == 302)


@pytest.mark.parametrize(("role", "status"), [("volunteer", 200), ("lawyer", 200), ("admin", 200), ("coordinator", 403)])
def test_person_export_access(client, org, case, role, status):
    as_role(client, org, role)
    assert client.get(f"/cases/{case.id}/person-export.zip").status_code == status


def test_person_export_download_contains_the_exhibits_and_is_audited(client, db, org, case, volunteer):
    data = png_bytes(7)
    exhibit(case, data)
    login(client, volunteer)
    response = client.get(f"/cases/{case.id}/person-export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert case.reference in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    pieces = json.loads(archive.read("pieces.json"))
    assert archive.read(pieces[0]["fichier"]) == data
    record = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "person.export")).one()
    assert json.loads(record.detail)["sha256"] == hashlib.sha256(response.data).hexdigest()
    assert record.actor_id == volunteer.id


def test_other_association_gets_404_everywhere(client, db, org, other_org, case):
    stranger = factories.user(other_org, "admin")
    login(client, stranger)
    assert client.get(f"/cases/{case.id}/person-export.zip").status_code == 404
    token = csrf_token(client, "/privacy/settings")
    for action, data in (("consent/withdraw", {"withdrawn_on": "2025-06-01"}), ("legal-hold", {"hold": "1"}),
                         ("erase", {"confirm": case.reference})):
        assert client.post(f"/cases/{case.id}/{action}", data={**data, "csrf_token": token}).status_code == 404
    fresh = db.session.get(Case, case.id)
    assert fresh.person.last_name == "Diallo" and not fresh.legal_hold and fresh.person.consent_withdrawn_at is None


def test_admin_erases_after_typing_the_reference(client, db, org, case):
    row = exhibit(case, png_bytes(8))
    as_role(client, org, "admin")
    wrong = post(client, case, "erase", confirm="pas la référence")
    assert wrong.status_code == 302 and db.session.get(Case, case.id).person.last_name == "Diallo"
    response = post(client, case, "erase", confirm=case.reference)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Données personnelles effacées" in page and "Diallo" not in page
    assert db.session.get(Case, case.id).narrative == "[effacé]"
    assert not store().exists(row.sha256)
    assert_no_personal_values(db)


@pytest.mark.parametrize("role", ["volunteer", "lawyer", "coordinator"])
def test_only_admins_erase(client, db, org, case, role):
    as_role(client, org, role)
    assert post(client, case, "erase", confirm=case.reference).status_code == 403
    assert db.session.get(Case, case.id).person.last_name == "Diallo"


def test_erasure_under_legal_hold_is_refused_with_a_french_message(client, db, org, case):
    as_role(client, org, "admin")
    post(client, case, "legal-hold", hold="1")
    response = post(client, case, "erase", confirm=case.reference)
    page = client.get(response.location).get_data(as_text=True)
    assert "Effacement refusé : ce dossier est sous conservation pour procédure" in page
    assert db.session.get(Case, case.id).person.last_name == "Diallo"


def test_notice_in_french_and_english_names_the_association(client, org, volunteer):
    login(client, volunteer)
    page = client.get("/notice").get_data(as_text=True)
    assert 'lang="fr"' in page and 'lang="en"' in page
    assert org.name in page and "730 jours" in page and "730 days" in page
    for words in ("Responsable", "consentement", "CNIL", "www.cnil.fr/fr/plaintes", "Your rights",
                  "within one month", "withdraw your consent"):
        assert words in page or words.lower() in page.lower(), words


def test_print_stylesheet_hides_navigation_and_breaks_between_languages(client):
    with client.get("/static/constat.css") as response:
        css = response.get_data(as_text=True)
    rules = css[css.index("/* privacy"):]
    assert re.search(r"@media print \{[^@]*\.topbar[^}]*display: none", rules)
    assert "page-break-before: always" in rules


def test_admin_sets_the_retention_period(client, db, org):
    admin = as_role(client, org, "admin")
    page = client.get("/privacy/settings").get_data(as_text=True)
    assert 'value="730"' in page
    token = csrf_token(client, "/privacy/settings")
    bad = client.post("/privacy/settings", data={"retention_days": "10", "csrf_token": token})
    assert bad.status_code == 422 and "comprise entre 90 et 3650 jours" in bad.get_data(as_text=True)
    assert client.post("/privacy/settings", data={"retention_days": "deux ans", "csrf_token": token}).status_code == 422
    ok = client.post("/privacy/settings", data={"retention_days": "365", "csrf_token": token})
    assert ok.status_code == 302
    assert db.session.get(Organisation, org.id).retention_days == 365
    record = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "org.retention")).one()
    assert json.loads(record.detail) == {"previous": 730, "days": 365} and record.actor_id == admin.id
    assert "365 jours" in client.get("/notice").get_data(as_text=True)


@pytest.mark.parametrize("role", ["volunteer", "lawyer", "coordinator"])
def test_retention_settings_are_admin_only(client, db, org, role):
    as_role(client, org, role)
    assert client.get("/privacy/settings").status_code == 403


def test_notice_is_public_and_generic_without_a_session(client, org):
    response = client.get("/notice")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert org.name not in page and "730 jours" in page and "www.cnil.fr/en/complaints" in page
    assert "Dossiers" not in page  # no navigation, nothing of an association


def test_withdrawal_needs_the_confirmation_and_a_chosen_date(client, db, org, case, volunteer):
    """Issue 14: no date is assumed, the effects are named, and nothing happens without the box ticked."""
    login(client, volunteer)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    section = page[page.index('id="donnees-personnelles"'):]
    assert "sort des statistiques" in section and 'name="confirm"' in section
    assert re.search(r'name="withdrawn_on"[^>]*value="\d', section) is None  # not pre-dated
    response = post(client, case, "consent/withdraw", withdrawn_on="2025-06-01")
    assert "cochez la case" in client.get(response.location).get_data(as_text=True)
    response = post(client, case, "consent/withdraw", withdrawn_on="", confirm="1")
    assert "Indiquez la date du retrait." in client.get(response.location).get_data(as_text=True)
    assert db.session.get(Case, case.id).person.consent_withdrawn_at is None


def test_admin_undoes_a_withdrawal_within_a_day_only(app, client, db, org, case, volunteer, monkeypatch):
    from datetime import timedelta

    from app.core import clock
    from app.privacy import services as privacy

    login(client, volunteer)
    post(client, case, "consent/withdraw", withdrawn_on="2025-06-01", confirm="1")
    assert "Annuler le retrait" not in client.get(f"/cases/{case.id}").get_data(as_text=True)  # admins only
    assert post(client, case, "consent/undo").status_code == 403
    admin = app.test_client()
    as_role(admin, org, "admin")
    assert "Annuler le retrait du consentement" in admin.get(f"/cases/{case.id}").get_data(as_text=True)
    assert post(admin, case, "consent/undo").status_code == 302
    assert db.session.get(Case, case.id).person.consent_withdrawn_at is None
    assert db.session.scalars(select(AuditRecord).where(AuditRecord.action == "consent.withdraw_undo")).one()
    # Recorded again; a day later it can no longer be undone.
    post(client, case, "consent/withdraw", withdrawn_on="2025-06-02", confirm="1")
    later = clock.utcnow() + timedelta(days=1, minutes=1)
    monkeypatch.setattr(privacy, "utcnow", lambda: later)
    assert "Annuler le retrait" not in admin.get(f"/cases/{case.id}").get_data(as_text=True)
    response = post(admin, case, "consent/undo")
    assert "ne peut plus être annulé" in admin.get(response.location).get_data(as_text=True)
    assert db.session.get(Case, case.id).person.consent_withdrawn_at == date(2025, 6, 2)
