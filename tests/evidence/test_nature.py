"""The nature of a pièce (what it is, as the bordereau names it): default from the sniffed type,
chosen on the form or the command line, refused when unknown, changed by a lawyer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.evidence import services
from app.evidence.models import Exhibit
from app.evidence.services import ExhibitRefused, add_exhibit
from app.legal.codes import NATURES
from tests import factories
from tests.conftest import csrf_token, login
from tests.evidence import files
from tests.evidence.helpers import exhibit_count, stored_files, upload


@pytest.mark.parametrize(("content", "name", "nature"), [
    (files.png(), "capture.png", "CAPTURE"),
    (files.eml(), "ccc.eml", "COURRIEL"),
    (files.text_pdf(["Accusé de réception"]), "ar.pdf", "DOCUMENT"),
    (b"Note de la permanence\n", "note.txt", "DOCUMENT"),
])
def test_default_nature_comes_from_the_sniffed_type(db, case, volunteer, content, name, nature):
    exhibit = add_exhibit(case, content, name, volunteer).exhibit
    db.session.commit()
    assert exhibit.nature == nature
    assert services.nature_label(exhibit) == NATURES[nature]


def test_explicit_nature_is_kept(db, case, volunteer):
    exhibit = add_exhibit(case, files.png(), "lrar.png", volunteer, nature="ACCUSE-LRAR").exhibit
    passport = add_exhibit(case, files.png(color="red"), "p.png", volunteer, nature=" passeport ").exhibit
    db.session.commit()
    assert (exhibit.nature, passport.nature) == ("ACCUSE-LRAR", "PASSEPORT")


def test_unknown_nature_is_refused_and_nothing_is_stored(app, db, case, volunteer):
    with pytest.raises(ExhibitRefused, match="Nature de pièce inconnue"):
        add_exhibit(case, files.png(), "a.png", volunteer, nature="FACTURE")
    db.session.rollback()
    assert exhibit_count(db) == 0 and stored_files(app) == []


def test_older_rows_without_nature_are_labelled_from_their_type(db, case, volunteer):
    exhibit = add_exhibit(case, files.eml(), "ccc.eml", volunteer).exhibit
    exhibit.nature = ""
    assert services.nature_label(exhibit) == NATURES["COURRIEL"]


# --- the form ---------------------------------------------------------------------------------

def test_form_offers_every_nature_and_stores_the_choice(app, db, logged_in, case):
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Nature de la pièce" in page
    assert "Selon le type de fichier (capture d'écran, courriel, document)" in page
    for code in NATURES:
        assert f'<option value="{code}"' in page
    response = upload(logged_in, case.id, (files.png(), "ar.png"), nature="ACCUSE-LRAR")
    assert response.status_code == 302
    response = upload(logged_in, case.id, (files.png(color="red"), "erreur.png"), nature="")
    assert response.status_code == 302
    assert db.session.scalars(select(Exhibit.nature).order_by(Exhibit.number)).all() == ["ACCUSE-LRAR", "CAPTURE"]
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Accusé de réception LRAR" in page and "Capture d&#39;écran" in page


def test_form_refusal_keeps_what_was_typed(app, db, logged_in, case):
    event = factories.event(case, "PREF")
    response = upload(logged_in, case.id, (files.HTML, "piege.png"), nature="COURRIER", description="Lettre au préfet",
                      event_id=str(event.id))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert '<option value="COURRIER" selected>' in page and "Lettre au préfet" in page
    assert f'<option value="{event.id}" selected>' in page
    # No file: the choice survives too.
    page = upload(logged_in, case.id, nature="TITRE").get_data(as_text=True)
    assert '<option value="TITRE" selected>' in page


def test_form_refuses_an_unknown_nature(app, db, logged_in, case):
    response = upload(logged_in, case.id, (files.png(), "a.png"), nature="FACTURE", description="Texte gardé")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nature de pièce inconnue" in page and "Texte gardé" in page
    assert exhibit_count(db) == 0


# --- changing it (lawyers) ---------------------------------------------------------------------

def test_lawyer_changes_the_nature_with_the_numbering(app, db, client, org, case, volunteer):
    a = add_exhibit(case, files.png(color="red"), "a.png", volunteer).exhibit
    b = add_exhibit(case, files.png(color="lime"), "b.png", volunteer).exhibit
    db.session.commit()
    login(client, factories.user(org, "lawyer"))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f'name="nature-{a.id}"' in page and "Renuméroter les pièces ou changer leur nature" in page
    token = csrf_token(client, f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/exhibits/order",
                           data={"csrf_token": token, f"position-{a.id}": "1", f"position-{b.id}": "2",
                                 f"nature-{a.id}": "TITRE", f"nature-{b.id}": "CAPTURE"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (db.session.get(Exhibit, a.id).nature, db.session.get(Exhibit, b.id).nature) == ("TITRE", "CAPTURE")
    custody = [(c.action, c.detail) for c in services.custody_of(db.session.get(Exhibit, a.id))]
    assert ("requalified", "nature : Capture d'écran → Titre de séjour") in custody
    assert [c.action for c in services.custody_of(db.session.get(Exhibit, b.id))] == ["added"]  # unchanged
    assert "Nature modifiée pour 1 pièce" in client.get(f"/cases/{case.id}").get_data(as_text=True)
    fiche = client.get(f"/exhibits/{a.id}/fiche").get_data(as_text=True)
    assert "Titre de séjour" in fiche and "nature modifiée" in fiche
    # An unknown code changes nothing at all, numbering included.
    response = client.post(f"/cases/{case.id}/exhibits/order",
                           data={"csrf_token": token, f"position-{b.id}": "1", f"nature-{a.id}": "FACTURE"})
    db.session.expire_all()
    assert db.session.get(Exhibit, a.id).nature == "TITRE" and db.session.get(Exhibit, b.id).number == 2
    assert "Nature de pièce inconnue" in client.get(f"/cases/{case.id}").get_data(as_text=True)


def test_volunteers_cannot_change_the_nature(app, db, logged_in, case, volunteer):
    a = add_exhibit(case, files.png(), "a.png", volunteer).exhibit
    db.session.commit()
    assert f'name="nature-{a.id}"' not in logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    token = csrf_token(logged_in, f"/cases/{case.id}")
    response = logged_in.post(f"/cases/{case.id}/exhibits/order", data={"csrf_token": token, f"nature-{a.id}": "TITRE"})
    assert response.status_code == 403
    assert db.session.get(Exhibit, a.id).nature == "CAPTURE"


# --- the command line --------------------------------------------------------------------------

def test_cli_nature(app, db, case, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "titre.png"
    path.write_bytes(files.png())
    result = runner.invoke(args=["evidence", "add", case.reference, str(path), "--nature", "inconnue"])
    assert result.exit_code == 1
    assert "nature de pièce inconnue" in result.output and "PASSEPORT (Passeport)" in result.output
    assert "Rien n'a été enregistré" in result.output
    assert exhibit_count(db) == 0 and stored_files(app) == []
    result = runner.invoke(args=["evidence", "add", case.reference, str(path), "--nature", "titre"])
    assert result.exit_code == 0, result.output
    assert "titre de séjour" in result.output
    assert db.session.scalar(select(Exhibit.nature)) == "TITRE"
    other = tmp_path / "courriel.eml"
    other.write_bytes(files.eml())
    assert runner.invoke(args=["evidence", "add", case.reference, str(other)]).exit_code == 0
    assert db.session.scalars(select(Exhibit.nature).order_by(Exhibit.number)).all() == ["TITRE", "COURRIEL"]
