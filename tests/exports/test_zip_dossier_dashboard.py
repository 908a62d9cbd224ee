"""Télérecours zip, collective dossier and dashboard."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import date, datetime

from docx import Document
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.cases.models import Code
from app.evidence.models import CustodyRecord
from app.exports.text import NBSP
from tests import factories
from tests.conftest import login
from tests.exports.helpers import add_exhibit, docx_text, exhibit_path, screenshot

NAME = re.compile(r"^\d{2}_[a-z0-9-]+_(\d{4}-\d{2}-\d{2}|sans-date)\.pdf$")


def test_telerecours_zip(app, client, lawyer, documented_case, db):
    """The web route gives the Télérecours bundle (tests/exports/test_bundle.py covers it in depth)."""
    app.config["SOFFICE"] = ""  # LibreOffice is exercised in test_bundle.py
    add_exhibit(documented_case, screenshot(9), "Ça « marche » pas – écran n°3 (copie).png", lawyer,
                description="Écran « Votre démarche n'a pas pu aboutir » : ÉCHEC réitéré à l'identique, "
                            "ça bloque depuis des semaines et des semaines sans la moindre réponse",
                captured_at=datetime(2025, 3, 3))
    login(client, lawyer)
    response = client.get(f"/cases/{documented_case.id}/exhibits.zip", buffered=True)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        pieces = [n for n in names if NAME.match(n)]
        assert [p[:3] for p in pieces] == ["01_", "02_", "03_"]
        for name in pieces:
            assert len(name) <= 80 and name.isascii()
            assert archive.read(name).startswith(b"%PDF")
        assert pieces[0] == "01_capture-d-ecran-ecran-d-erreur-de-l-anef_2025-02-12.pdf"
        inventory = names[0]
        assert inventory.startswith("00_inventaire_")
        bordereau = docx_text(archive.read(inventory)).replace(NBSP, " ")
        assert "Pièce n° 1" in bordereau and "Pièce n° 3" in bordereau
        manifest = json.loads(archive.read("ne_pas_deposer/manifeste.json"))
        first = manifest["pieces"][0]
        assert first["fichier"] == pieces[0] and len(first["sha256_origine"]) == 64
        assert hashlib.sha256(archive.read(pieces[0])).hexdigest() == first["sha256_pdf"]
        assert hashlib.sha256(archive.read(first["original"])).hexdigest() == first["sha256_origine"]
    custody = db.session.scalars(select(CustodyRecord).where(CustodyRecord.action == "exported")).all()
    assert len(custody) == 3
    assert db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.exhibits_zip")) is not None


def test_zip_with_a_missing_file_and_without_exhibits(app, client, org, lawyer, documented_case):
    from app.exports import services

    app.config["SOFFICE"] = ""
    sha = services.rows_mod.exhibit_rows(documented_case.id, services.locate_exhibit)[1].sha256
    path = exhibit_path(app, sha)
    path.chmod(0o644)
    path.unlink()
    login(client, lawyer)
    response = client.get(f"/cases/{documented_case.id}/exhibits.zip", buffered=True)
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert len([n for n in archive.namelist() if NAME.match(n)]) == 1
        manifest = json.loads(archive.read("ne_pas_deposer/manifeste.json"))
        assert [p["etat"] for p in manifest["pieces"]] == ["incluse", "manquante"]
    empty = factories.case(org, lawyer)
    response = client.get(f"/cases/{empty.id}/exhibits.zip", buffered=True)
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert sorted(archive.namelist()) == [f"00_inventaire_{empty.reference.lower()}.docx",
                                              "ne_pas_deposer/LISEZMOI.txt", "ne_pas_deposer/manifeste.json"]


def test_dossier_is_aggregated_and_anonymous(client, org, other_org, coordinator, documented_case, db):
    factories.case(org, None, last_name="Иванов", first_name="Иван", prefecture="75", numero_etranger="0711111111")
    factories.case(other_org, None, last_name="Autre", first_name="Association")
    login(client, coordinator)
    response = client.get("/exports/dossier.docx")
    assert response.status_code == 200
    document = Document(io.BytesIO(response.data))
    text = docx_text(response.data).replace(NBSP, " ")
    assert "Médiane" in text and "90e centile" in text and "Jours sans droits" in text
    assert "0,4 %" in text and "4 377" in text
    assert len(document.tables) >= 3
    assert len(document.inline_shapes) >= 2  # charts as images
    for needle in ("Nguy", "Thị", "Иван", "0612345678", "0711111111", "ANEF-2025-998877", "example.org",
                   documented_case.reference, "Autre Association", "Injonction au préfet"):
        assert needle not in text, needle
    assert "Dossiers : 2" in text  # the other association's case is not counted
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert "Méthode" in headings and "Tableau des dossiers (pseudonymes, dates au mois)" in headings
    assert db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.dossier")) is not None


def test_dossier_cli_and_empty_selection(app, tmp_path, org):
    out = tmp_path / "dossier.docx"
    result = app.test_cli_runner().invoke(args=["exports", "dossier", "--org", org.slug, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = docx_text(out.read_bytes())
    assert "Aucun dossier ne correspond aux filtres." in text


def test_dashboard(client, org, other_org, coordinator, documented_case):
    factories.case(org, None, prefecture="13", blocages=["RDV"])
    factories.case(other_org, None)
    org_code = Code(kind="blocage", code="X-SCRIPT", label="<script>alert(1)</script>", org_id=org.id)
    from app.extensions import db

    db.session.add(org_code)
    db.session.commit()
    factories.case(org, None, blocages=["X-SCRIPT"])
    login(client, coordinator)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Tableau de bord" in page and "(3 dossiers)" in page
    assert page.count("<svg") >= 3
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "/exports/cases.xlsx" in page and "/exports/dossier.docx" in page
    assert "identified=1" not in page  # coordinators cannot have identities
    assert "<script>" not in page.split("</head>")[1]  # no inline script
    filtered = client.get("/dashboard?prefecture=13").get_data(as_text=True)
    assert "(1 dossier)" in filtered and "prefecture=13" in filtered
    assert "Dossiers par blocage principal" in filtered
    nav = client.get("/cases/").get_data(as_text=True)
    assert "/dashboard" in nav


def test_dashboard_filters_link_to_exports(client, org, admin):
    factories.case(org, None, first_attempt=date(2025, 1, 1))
    login(client, admin)
    page = client.get("/dashboard?status=OUVERT").get_data(as_text=True)
    assert "identified=1" in page and "status=OUVERT" in page
    assert "Modèle Word des mémoires" in page
