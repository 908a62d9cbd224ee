"""Consent withdrawal, legal hold, the person's export and erasure, without HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date

import pytest
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.audit.services import verify_chain
from app.cases.models import Case, Event
from app.evidence import thumbnails
from app.evidence.models import CustodyRecord, Exhibit, OcrJob
from app.evidence.storage import store
from app.privacy import services
from app.search.services import matching_case_ids
from app.search.models import IndexOutbox
from tests import factories
from tests.privacy.helpers import exhibit, png_bytes

PERSONAL = ("Diallo", "Amadou", "0612345678", "amadou@example.org", "12 rue des Lilas", "1234567890",
            "guinéenne", "Conakry", "capture-anef.png", "récit confidentiel", "ticket CCC 4242", "pièce privée")


def full_case(org, actor=None):
    case = factories.case(org, actor, numero_etranger="1234567890", phone="0612345678",
                          email="amadou@example.org", address="12 rue des Lilas", nationality="guinéenne",
                          civility="M.", birth_place="Conakry (Guinée)",
                          birth_date=date(1990, 5, 4), narrative="Un récit confidentiel.",
                          consent_date=date(2025, 1, 10), consent_collected_by="Bénévole Lyon",
                          consent_followup=True, consent_litigation=True)
    factories.event(case, "TENTATIVE", date(2025, 2, 1), description="Écran d'erreur, ticket CCC 4242",
                    reference="CCC-4242")
    return case


def audit_text(db) -> str:
    rows = db.session.scalars(select(AuditRecord)).all()
    return " ".join(f"{r.action} {r.object_type} {r.object_id} {r.detail}" for r in rows)


def assert_no_personal_values(db):
    text = audit_text(db)
    for value in PERSONAL:
        assert value not in text, value


def test_withdraw_consent_records_date_and_audit_without_personal_values(db, org, volunteer):
    case = full_case(org, volunteer)
    services.withdraw_consent(case, date(2025, 6, 1), volunteer, today=date(2025, 6, 2))
    db.session.commit()
    assert case.person.consent_withdrawn_at == date(2025, 6, 1)
    # The consent given stays on record: withdrawal keeps the history.
    assert case.person.consent_date == date(2025, 1, 10) and case.person.consent_followup
    record = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "consent.withdraw")).one()
    assert record.object_id == str(case.id) and "2025-06-01" in record.detail
    assert_no_personal_values(db)


@pytest.mark.parametrize(("when", "message"), [
    (date(2025, 7, 1), "futur"),
    (date(2024, 12, 31), "précéder"),
    (None, "Indiquez"),
])
def test_withdraw_consent_refuses_bad_dates(db, org, volunteer, when, message):
    case = full_case(org, volunteer)
    with pytest.raises(services.PrivacyError, match=message):
        services.withdraw_consent(case, when, volunteer, today=date(2025, 6, 2))


def test_withdraw_consent_twice_is_refused(db, org, volunteer):
    case = full_case(org, volunteer)
    services.withdraw_consent(case, date(2025, 6, 1), volunteer, today=date(2025, 6, 2))
    with pytest.raises(services.PrivacyError, match="déjà"):
        services.withdraw_consent(case, date(2025, 6, 1), volunteer, today=date(2025, 6, 2))


def test_legal_hold_toggles_and_is_audited(db, org):
    lawyer = factories.user(org, "lawyer")
    case = full_case(org)
    assert services.set_legal_hold(case, True, lawyer) is True
    assert services.set_legal_hold(case, True, lawyer) is False  # no change, no record
    db.session.commit()
    records = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "case.legal_hold")).all()
    assert [json.loads(r.detail) for r in records] == [{"hold": True}]
    assert db.session.get(Case, case.id).legal_hold is True


def test_person_export_holds_json_and_byte_identical_exhibits(db, org, volunteer):
    case = full_case(org, volunteer)
    first, second = png_bytes(1), png_bytes(2)
    exhibit(case, first, description="pièce privée", ocr_text="NOM DIALLO")
    exhibit(case, second, name="courrier.png")
    data, digest = services.person_export(case, volunteer)
    db.session.commit()
    assert hashlib.sha256(data).hexdigest() == digest
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    person = json.loads(archive.read("personne.json"))
    assert person["nom"] == "Diallo" and person["numero_etranger"] == "1234567890"
    assert person["civilite"] == "M." and person["lieu_de_naissance"] == "Conakry (Guinée)"
    assert person["consentement"]["date"] == "2025-01-10" and person["consentement"]["contentieux"] is True
    dossier = json.loads(archive.read("dossier.json"))
    assert dossier["reference"] == case.reference and dossier["recit"] == "Un récit confidentiel."
    assert dossier["association"] == org.name
    timeline = json.loads(archive.read("chronologie.json"))
    assert timeline[0]["description"] == "Écran d'erreur, ticket CCC 4242"
    pieces = json.loads(archive.read("pieces.json"))
    assert [p["numero"] for p in pieces] == [1, 2]
    for piece, original in zip(pieces, (first, second), strict=True):
        content = archive.read(piece["fichier"])
        assert content == original and hashlib.sha256(content).hexdigest() == piece["sha256"]
    assert pieces[0]["texte_reconnu"] == "NOM DIALLO"
    record = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "person.export")).one()
    assert json.loads(record.detail) == {"sha256": digest, "exhibits": 2, "events": 1}
    assert_no_personal_values(db)


def test_erasure_blanks_person_narrative_events_and_exhibits(db, org, volunteer):
    admin = factories.user(org, "admin")
    case = full_case(org, volunteer)
    own = exhibit(case, png_bytes(1), description="pièce privée", ocr_text="DIALLO AMADOU")
    shared_bytes = png_bytes(2)
    shared = exhibit(case, shared_bytes)
    other_case = factories.case(org, volunteer, last_name="Autre")
    exhibit(other_case, shared_bytes)  # the same screenshot filed in another case
    db.session.add(OcrJob(exhibit_id=own.id))
    db.session.commit()
    assert case.id in matching_case_ids(org.id, "Diallo", identity=True)

    previews = [thumbnails.get(row.sha256, "image/png", variant) for row in (own, shared)
                for variant in thumbnails.SIZES]
    assert all(p is not None and p.is_file() for p in previews)

    result = services.erase_person(case, admin)
    db.session.commit()
    assert services.purge_files(result.files_to_purge) == 1
    # The erased picture's thumbnails go with it; the shared one's stay.
    assert [p.is_file() for p in previews] == [False] * len(thumbnails.SIZES) + [True] * len(thumbnails.SIZES)

    case = db.session.get(Case, case.id)
    person = case.person
    assert (person.last_name, person.first_name, person.numero_etranger, person.phone, person.email,
            person.address, person.nationality, person.birth_date) == ("", "", "", "", "", "", "", None)
    assert (person.civility, person.birth_place) == ("", "")
    assert person.anonymised_at is not None and case.anonymised_at is not None
    assert case.narrative == "[effacé]" and case.anef_number == ""
    assert [(e.description, e.reference) for e in db.session.scalars(select(Event).where(Event.case_id == case.id))] \
        == [("[effacé]", "")]
    # Codes, dates and the consent record stay for statistics and accountability.
    assert case.blocages == ["API-ABS"] and case.person.consent_date == date(2025, 1, 10)
    for row in db.session.scalars(select(Exhibit).where(Exhibit.case_id == case.id)):
        assert row.withdrawn_at is not None and row.withdrawn_reason == "effacement RGPD"
        assert row.ocr_text == "" and row.original_name == ""
    assert db.session.get(Exhibit, own.id).description == "[effacé]"
    assert not store().exists(own.sha256)
    assert store().exists(shared.sha256)  # still needed by the other case
    assert db.session.scalar(select(OcrJob).where(OcrJob.exhibit_id == own.id)) is None
    custody = db.session.scalars(select(CustodyRecord).where(CustodyRecord.exhibit_id == own.id)).all()
    assert [c.action for c in custody] == ["withdrawn"]
    # The search index followed the erasure (outbox drained after the commit).
    assert db.session.query(IndexOutbox).count() == 0
    assert case.id not in matching_case_ids(org.id, "Diallo", identity=True)
    assert matching_case_ids(org.id, "confidentiel", identity=True) == []
    record = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "person.erase")).one()
    assert record.actor_id == admin.id and record.object_id == str(case.id)
    assert_no_personal_values(db)
    assert verify_chain() == []


def test_outcomes_are_exported_and_kept_by_erasure(db, org, volunteer):
    """An ordonnance's outcome is a code, not personal data: the person sees it in their
    export, and erasure keeps it (with the dates) for the statistics."""
    admin = factories.user(org, "admin")
    case = full_case(org, volunteer)
    factories.event(case, "ORDONNANCE", date(2025, 3, 1), "Injonction, M. Diallo", outcome="INJONCTION")
    data, _digest = services.person_export(case, volunteer)
    timeline = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("chronologie.json"))
    assert [e["issue"] for e in timeline] == ["", "Injonction prononcée"]
    services.erase_person(case, admin)
    db.session.commit()
    events = db.session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.date)).all()
    assert [(e.type, e.outcome, e.description) for e in events] == [
        ("TENTATIVE", "", "[effacé]"), ("ORDONNANCE", "INJONCTION", "[effacé]")]


def test_erasure_of_the_last_case_holding_a_file_deletes_it(db, org, volunteer):
    admin = factories.user(org, "admin")
    first, second = full_case(org, volunteer), factories.case(org, volunteer)
    data = png_bytes(5)
    row = exhibit(first, data)
    exhibit(second, data)
    for case in (first, second):
        result = services.erase_person(case, admin)
        db.session.commit()
        services.purge_files(result.files_to_purge)
        assert store().exists(row.sha256) is (case is first)


def test_erasure_refused_under_legal_hold_changes_nothing(db, org, volunteer):
    admin = factories.user(org, "admin")
    case = full_case(org, volunteer)
    row = exhibit(case, png_bytes(3))
    services.set_legal_hold(case, True, admin)
    db.session.commit()
    with pytest.raises(services.PrivacyError, match="conservation pour procédure"):
        services.erase_person(case, admin)
    db.session.rollback()
    case = db.session.get(Case, case.id)
    assert case.person.last_name == "Diallo" and case.anonymised_at is None
    assert store().exists(row.sha256) and db.session.get(Exhibit, row.id).withdrawn_at is None


def test_erasure_blanks_withdrawal_reasons_typed_earlier(db, org, volunteer):
    from app.evidence.services import withdraw_exhibit

    admin = factories.user(org, "lawyer")
    case = full_case(org, volunteer)
    row = exhibit(case, png_bytes(7))
    withdraw_exhibit(row, "Doublon envoyé par M. Diallo par erreur", admin)
    db.session.commit()
    services.erase_person(case, factories.user(org, "admin"))
    db.session.commit()
    details = db.session.scalars(select(CustodyRecord.detail).where(CustodyRecord.exhibit_id == row.id)).all()
    assert details and not any("Diallo" in d for d in details)
