"""`flask evidence add | verify | ocr` through Click's runner, on the real store and database."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from app.evidence.models import Exhibit
from app.evidence.storage import store
from tests import factories
from tests.evidence import files
from tests.evidence.helpers import exhibit_count, stored_files


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_add_then_duplicate(runner, db, case, tmp_path):
    path = tmp_path / "erreur anef.png"
    path.write_bytes(files.screenshot())
    result = runner.invoke(args=["evidence", "add", case.reference, str(path), "--description", "Erreur",
                                 "--captured-at", "03/02/2025"])
    assert result.exit_code == 0, result.output
    assert f"Pièce n° 1 ajoutée au dossier {case.reference}" in result.output
    exhibit = db.session.scalar(select(Exhibit))
    assert (exhibit.original_name, exhibit.description, exhibit.added_by_id) == ("erreur anef.png", "Erreur", None)
    assert exhibit.captured_at.date().isoformat() == "2025-02-03"
    result = runner.invoke(args=["evidence", "add", case.reference, str(path)])
    assert result.exit_code == 0 and "Déjà présente" in result.output
    assert exhibit_count(db) == 1


def test_add_refuses_with_the_same_checks_as_the_web(runner, app, db, case, tmp_path):
    path = tmp_path / "capture.png"
    path.write_bytes(files.EXE)
    result = runner.invoke(args=["evidence", "add", case.reference, str(path)])
    assert result.exit_code == 1
    assert "programme exécutable" in result.output and "Rien n'a été enregistré" in result.output
    assert exhibit_count(db) == 0 and stored_files(app) == []


def test_a_file_named_with_a_newline_is_stored_under_a_clean_name(runner, db, case, tmp_path):
    path = tmp_path / "capture\r\nContent-Type: text.png"
    path.write_bytes(files.png())
    assert runner.invoke(args=["evidence", "add", case.reference, str(path)]).exit_code == 0
    assert db.session.scalar(select(Exhibit.original_name)) == "captureContent-Type_ text.png"


def test_size_limit_applies(runner, app, db, case, tmp_path):
    app.config["MAX_EXHIBIT_BYTES"] = 1000
    path = tmp_path / "grande.png"
    path.write_bytes(files.png() + b"\x00" * 1000)
    result = runner.invoke(args=["evidence", "add", case.reference, str(path)])
    assert result.exit_code == 1 and "taille maximale" in result.output
    assert exhibit_count(db) == 0


def test_reference_unknown_or_ambiguous(runner, db, org, other_org, volunteer, case, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(files.png())
    result = runner.invoke(args=["evidence", "add", "LYO-1999-9999", str(path)])
    assert result.exit_code == 1 and "introuvable" in result.output
    # Same reference in another association (references are unique per association only).
    twin = factories.case(other_org, None, reference=case.reference)
    if twin.reference != case.reference:
        twin.reference = case.reference
        db.session.commit()
    result = runner.invoke(args=["evidence", "add", case.reference, str(path)])
    assert result.exit_code == 1 and "plusieurs associations" in result.output and "--org" in result.output
    result = runner.invoke(args=["evidence", "add", case.reference, str(path), "--org", other_org.slug])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Exhibit.case_id)) == twin.id


def test_verify_passes_then_fails_on_one_flipped_bit(runner, db, case, tmp_path):
    for color in ("red", "green"):
        path = tmp_path / f"{color}.png"
        path.write_bytes(files.png(color=color))
        assert runner.invoke(args=["evidence", "add", case.reference, str(path)]).exit_code == 0
    result = runner.invoke(args=["evidence", "verify"])
    assert result.exit_code == 0, result.output
    assert "intègre : 2 fichier(s) vérifié(s)" in result.output

    exhibit = db.session.scalar(select(Exhibit).where(Exhibit.number == 2))
    target = store().path_for(exhibit.sha256)
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[-1] ^= 0x80
    target.write_bytes(bytes(data))
    orphan, _ = store().put(b"personne ne me reference")
    result = runner.invoke(args=["evidence", "verify"])
    assert result.exit_code == 1
    assert f"altéré : {exhibit.sha256} — {case.reference} pièce n° 2" in result.output
    assert f"orphelin (aucune pièce ne le référence) : {orphan}" in result.output
    assert "NON intègre" in result.output


def test_verify_names_a_missing_file(runner, db, case, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(files.png())
    runner.invoke(args=["evidence", "add", case.reference, str(path)])
    sha = db.session.scalar(select(Exhibit.sha256))
    store().path_for(sha).unlink()
    result = runner.invoke(args=["evidence", "verify"])
    assert result.exit_code == 1
    assert f"manquant : {sha} — {case.reference} pièce n° 1" in result.output


def test_ocr_works_the_queue_until_empty(runner, db, case, tmp_path):
    from app.evidence.ocr import engine_status

    if not engine_status(max_age=0)[0]:
        pytest.skip("tesseract-ocr-fra absent")
    for code in ("RDV", "CLOS"):
        path = tmp_path / f"{code}.png"
        path.write_bytes(files.screenshot(code))
        runner.invoke(args=["evidence", "add", case.reference, str(path)])
    result = runner.invoke(args=["evidence", "ocr"])
    assert result.exit_code == 0, result.output
    assert "2 pièce(s) lue(s)" in result.output and "0 en attente" in result.output
    db.session.expire_all()
    assert {e.ocr_status for e in db.session.scalars(select(Exhibit))} == {"done"}
