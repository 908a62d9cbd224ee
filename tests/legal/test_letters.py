"""Letters before court: drafted from the case's facts, refused when the facts do not support
them, and sending recorded as a dated timeline event with its LRAR number and proof."""

from __future__ import annotations

import io
from datetime import date, timedelta

from sqlalchemy import select

from app.cases.models import Event
from app.evidence.models import Exhibit
from app.legal.services import routing_for
from tests import factories
from tests.conftest import csrf_token, login
from tests.exports.helpers import docx_text, screenshot
from tests.legal.test_requetes import make

NBSP = "\u00a0"
TODAY = date.today()


def ago(days):
    return TODAY - timedelta(days=days)


def _letter(app, tmp_path, reference, kind):
    out = tmp_path / f"{reference}_{kind}.docx"
    result = app.test_cli_runner().invoke(args=["exports", "letter", reference, kind, "-o", str(out)])
    return result, (docx_text(out.read_bytes()).replace(NBSP, " ") if out.exists() else "")


def test_prefet_letter_asks_for_the_substitution_solution_by_lrar(app, tmp_path, org):
    make(org, "BLOQ", [(60, "TENTATIVE", ""), (45, "ERREUR", ""), (30, "CCC", "")], demarche="RENOUV",
         titre_expiry=ago(-30), titre_actuel="salarié")
    result, text = _letter(app, tmp_path, "BLOQ", "prefet")
    assert result.exit_code == 0, result.output
    assert "Lettre recommandée avec demande d'avis de réception" in text
    assert "solution de substitution" in text and "arrêté du 1er août 2023 (NOR : IOMV2311395A)" in text
    assert "attestation de prolongation d'instruction m'autorisant à travailler" in text
    assert f"le {ago(60).day}" in text or "tentative de dépôt" in text
    assert "Le préfet du Rhône" in text and "Ana DIALLO" in text


def test_motifs_letter_cites_crpa_and_the_dates(app, tmp_path, org):
    make(org, "SIL", [(150, "DEPOT", "")])
    result, text = _letter(app, tmp_path, "SIL", "motifs")
    assert result.exit_code == 0, result.output
    assert "article L. 232-4 du code des relations entre le public et l'administration" in text
    assert "une décision implicite de rejet est née le" in text
    # No deposit: no implicit rejection, no letter.
    make(org, "NODEP", [(60, "TENTATIVE", "")])
    result, text = _letter(app, tmp_path, "NODEP", "motifs")
    assert result.exit_code != 0 and "aucun dépôt complet" in result.output and not text


def test_prefet_letter_is_refused_once_the_request_is_deposited(app, tmp_path, org):
    make(org, "DEP", [(150, "DEPOT", "")])
    result, _ = _letter(app, tmp_path, "DEP", "prefet")
    assert result.exit_code != 0 and "solution de substitution ne s'applique plus" in result.output
    assert "motifs" in result.output


def test_defenseur_letter_tells_the_facts_and_what_was_tried(app, tmp_path, org):
    make(org, "DDD", [(90, "TENTATIVE", ""), (60, "PAN", ""), (20, "EMPLOI", "")])
    result, text = _letter(app, tmp_path, "DDD", "defenseur")
    assert result.exit_code == 0, result.output
    assert text.startswith("Ana DIALLO") and "Défenseur des droits" in text
    assert "loi organique n° 2011-333 du 29 mars 2011" in text
    assert "point d'accueil numérique" in text and "perte ou suspension de mon emploi" in text
    assert "Numéro étranger" not in text  # the Défenseur does not need it
    assert _letter(app, tmp_path, "DDD", "bogus")[0].exit_code != 0


def test_web_letters_by_role(client, org):
    case = make(org, "WEB", [(60, "TENTATIVE", ""), (30, "TENTATIVE", "")])
    for role, expected in (("volunteer", 200), ("lawyer", 200), ("coordinator", 403)):
        other = client.application.test_client()
        login(other, factories.user(org, role))
        response = other.get(f"/cases/{case.id}/letters/prefet.docx")
        assert response.status_code == expected, role
        if expected == 200:
            assert response.mimetype.endswith("wordprocessingml.document")
    from app.audit.models import AuditRecord
    from app.extensions import db

    refused = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.refused"))
    assert refused is not None and '"kind":"letter"' in refused.detail
    other = client.application.test_client()
    login(other, factories.user(org, "volunteer"))
    assert other.get(f"/cases/{case.id}/letters/nope.docx").status_code == 404
    page = other.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "letters/prefet.docx" in page and "letters/motifs.docx" not in page  # only what the facts support
    refused = other.get(f"/cases/{case.id}/letters/motifs.docx")
    assert refused.status_code == 409 and "aucun dépôt complet" in refused.get_data(as_text=True)


def test_recording_a_sent_letter_adds_the_event_the_number_and_the_proof(client, org, db):
    case = make(org, "SENT", [(60, "TENTATIVE", ""), (40, "TENTATIVE", "")])
    assert any("LRAR" in m for m in routing_for(case).missing)
    volunteer = factories.user(org, "volunteer")
    login(client, volunteer)
    token = csrf_token(client, f"/cases/{case.id}")
    # Missing LRAR number: nothing recorded, a French message.
    response = client.post(f"/cases/{case.id}/letters/sent", data={
        "csrf_token": token, "kind": "prefet", "sent_on": ago(2).isoformat(), "lrar": ""}, follow_redirects=True)
    assert "numéro de la lettre recommandée" in response.get_data(as_text=True)
    assert db.session.scalar(select(Event).where(Event.case_id == case.id, Event.type == "SUBST")) is None
    # A refused proof file rolls the event back too.
    response = client.post(f"/cases/{case.id}/letters/sent", data={
        "csrf_token": token, "kind": "prefet", "sent_on": ago(2).isoformat(), "lrar": "1A 123 456 7890 1",
        "file": (io.BytesIO(b"MZ\x90\x00not a picture"), "accuse.png")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "Envoi non enregistré" in response.get_data(as_text=True)
    assert db.session.scalar(select(Event).where(Event.case_id == case.id, Event.type == "SUBST")) is None
    # The real thing.
    response = client.post(f"/cases/{case.id}/letters/sent", data={
        "csrf_token": token, "kind": "prefet", "sent_on": ago(2).isoformat(), "lrar": "1A 123 456 7890 1",
        "file": (io.BytesIO(screenshot(3)), "preuve_depot.png")},
        content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "1A 123 456 7890 1" in page
    event = db.session.scalar(select(Event).where(Event.case_id == case.id, Event.type == "SUBST"))
    assert event.date == ago(2) and event.reference == "1A 123 456 7890 1"
    exhibit = db.session.scalar(select(Exhibit).where(Exhibit.case_id == case.id))
    assert exhibit.event_id == event.id and exhibit.nature == "ACCUSE-LRAR"
    # The routing reads it: the prior written request is there, with its proof.
    db.session.expire_all()
    routing = routing_for(case)
    assert not any("LRAR" in m for m in routing.missing)
    assert any("demande écrite a été adressée" in r for r in routing.reasons)
