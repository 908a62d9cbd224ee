"""The référé brief: content, Word structure, typography, hostile input, access, base document."""

from __future__ import annotations

import io
from datetime import date, datetime

from docx import Document
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.exports import services
from app.exports.text import NBSP
from tests import factories
from tests.conftest import login
from tests.exports.helpers import add_exhibit, docx_text, exhibit_path, screenshot


def _brief(client, case_id, route=None):
    response = client.get(f"/cases/{case_id}/brief.docx" + (f"?route={route}" if route else ""))
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("wordprocessingml.document")
    return response.data


def test_brief_tells_the_case_with_numbered_pieces(client, lawyer, documented_case):
    login(client, lawyer)
    content = _brief(client, documented_case.id, route="MESURES-UTILES")
    raw = docx_text(content)
    text = raw.replace(NBSP, " ")
    # Forced away from the case's route: the draft says which one the facts call for.
    assert "appellent la voie « Demande d'exécution de l'ordonnance obtenue »" in text
    assert "RÉFÉRÉ MESURES UTILES" in text
    assert "L. 521-3" in text
    assert "tribunal administratif de Lyon" in text
    assert "préfet du Rhône" in text
    assert "Thị Minh Khai NGUYỄN" in text
    assert "Le 12 février 2025, Thị Minh Khai NGUYỄN a tenté de déposer sa demande sur l'ANEF" in text
    # The screenshot captured that day and the one attached to the CCC event are cited there.
    assert "sans y parvenir (pièce n° 1)." in text
    assert "TICKET-4471" in text and "(pièce n° 2)" in text
    assert "Pièce n° 1" in text and "Pièce n° 2" in text
    # Renewal asked after the R. 431-5 window (titre expired 31 January, first attempt 12 February).
    assert "l'urgence n'est pas présumée" in text
    assert "453391" not in text and "R. 414-3" not in text
    assert "[À COMPLÉTER" in text
    document = Document(io.BytesIO(content))
    styles = {p.style.name for p in document.paragraphs}
    assert {"Title", "Heading 1", "Heading 2", "List Number", "Caption"} <= styles
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings[:3] == ["I. FAITS ET PROCÉDURE", "II. DISCUSSION", "PAR CES MOTIFS"]
    assert "BORDEREAU DES PIÈCES" in headings and "ANNEXES" in headings
    # Bordereau: continuous numbering from 1, nature and date in the label.
    table = document.tables[0]
    numbers = [row.cells[0].text for row in table.rows]
    assert numbers[:3] == ["N°", f"Pièce n°{NBSP}1", f"Pièce n°{NBSP}2"]
    # Then the standard pièces a lawyer needs and the case lacks (renewal: the titre; the passport…).
    assert set(numbers[3:]) == {"À fournir"} and len(numbers) > 3
    assert any("passeport" in row.cells[1].text for row in table.rows[3:])
    assert f"Capture d'écran du 12 février 2025{NBSP}: Écran d'erreur" in table.rows[1].cells[1].text
    # Annexes: both screenshots embedded, fitted to the page, captioned with the SHA-256.
    assert len(document.inline_shapes) == 2
    section = document.sections[-1]
    usable = section.page_width - section.left_margin - section.right_margin
    assert all(0 < shape.width <= usable for shape in document.inline_shapes)
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    exhibits = services.rows_mod.exhibit_rows(documented_case.id, services.locate_exhibit)
    assert any(exhibits[0].sha256 in c and c.startswith(f"Pièce n°{NBSP}1 ") for c in captions)
    # Page numbers: a PAGE field in the footer.
    assert "PAGE" in document.sections[0].footer._element.xml
    # French typography: non-breaking space before the colon.
    assert f"POUR{NBSP}:" in raw and f"«{NBSP}salarié{NBSP}»" in raw


def test_default_brief_is_the_route_the_case_calls_for(client, lawyer, documented_case):
    login(client, lawyer)
    text = docx_text(_brief(client, documented_case.id)).replace(NBSP, " ")
    assert "DEMANDE D'EXÉCUTION D'UNE ORDONNANCE DE RÉFÉRÉ" in text
    assert "article L. 911-4 du code de justice administrative" in text
    assert "appellent la voie" not in text  # no warning line when the route is the case's own
    assert "aide juridictionnelle à titre provisoire" in text


def test_brief_is_audited_with_the_hash_of_the_file(client, lawyer, documented_case, db):
    import hashlib

    login(client, lawyer)
    content = _brief(client, documented_case.id)
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.brief"))
    assert record.actor_id == lawyer.id
    assert hashlib.sha256(content).hexdigest() in record.detail
    assert "Nguy" not in record.detail


def test_hostile_text_stays_literal(client, org, lawyer):
    case = factories.case(org, lawyer, last_name="الهاشمي", first_name="Иван")
    hostile = ["<script>alert(1)</script>", "=HYPERLINK(\"http://x\")", "{{7*7}}", "{% raw %}", "]]>",
               "bip\x07\x1b[31m", "a" * 9000]
    for i, text in enumerate(hostile):
        factories.event(case, "ERREUR", date(2025, 1, 10 + i), text)
    login(client, lawyer)
    text = docx_text(_brief(client, case.id)).replace(NBSP, " ")
    assert "<script>alert(1)</script>" in text
    assert "{{7*7}}" in text and "{% raw %}" in text and "]]>" in text
    assert "\x07" not in text and "\x1b" not in text and "bip[31m" in text
    assert "Иван الهاشمي" in text
    assert "a" * 9000 in text


def test_empty_case_gives_a_valid_brief(client, org, lawyer):
    case = factories.case(org, lawyer, last_name="", first_name="", blocages=["ACC-AUTH"], demarche="PREMIERE")
    login(client, lawyer)
    # No timeline: no route, and a clear French refusal rather than a confident draft.
    refused = client.get(f"/cases/{case.id}/brief.docx")
    assert refused.status_code == 409 and "chronologie est vide" in refused.get_data(as_text=True)
    text = docx_text(_brief(client, case.id, route="MESURES-UTILES")).replace(NBSP, " ")
    assert "aucun événement" in text
    assert "Aucune pièce" in text
    assert "nom, prénom" in text  # identity placeholder
    assert "urgence est en principe présumée" not in text


def test_missing_exhibit_file_is_reported_not_fatal(app, client, lawyer, documented_case):
    exhibits = services.rows_mod.exhibit_rows(documented_case.id, services.locate_exhibit)
    path = exhibit_path(app, exhibits[0].sha256)
    path.chmod(0o644)
    path.unlink()
    login(client, lawyer)
    content = _brief(client, documented_case.id)
    text = docx_text(content).replace(NBSP, " ")
    assert "Pièce manquante" in text and exhibits[0].sha256 in text
    assert "(fichier manquant)" in text
    assert len(Document(io.BytesIO(content)).inline_shapes) == 1


def test_paris_is_against_the_prefet_de_police(client, org, lawyer):
    case = factories.case(org, lawyer, prefecture="75")
    login(client, lawyer)
    text = docx_text(_brief(client, case.id, route="MESURES-UTILES")).replace(NBSP, " ")
    assert "CONTRE" in text and "Le préfet de police" in text
    assert "tribunal administratif de Paris" in text


def test_access(client, org, other_org, documented_case, coordinator, volunteer):
    foreign_lawyer = factories.user(other_org, "lawyer")
    login(client, foreign_lawyer)
    assert client.get(f"/cases/{documented_case.id}/brief.docx").status_code == 404
    assert client.get(f"/cases/{documented_case.id}/exhibits.zip").status_code == 404
    assert client.get("/cases/999999/brief.docx").status_code == 404
    for user in (coordinator, volunteer):
        other = client.application.test_client()
        login(other, user)
        assert other.get(f"/cases/{documented_case.id}/brief.docx").status_code == 403
        assert other.get(f"/cases/{documented_case.id}/exhibits.zip").status_code == 403


def _docx_with_header(text: str) -> bytes:
    document = Document()
    document.sections[0].header.paragraphs[0].text = text
    document.add_paragraph("Texte d'exemple qui doit disparaître du mémoire.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _upload(client, content: bytes, name: str = "modele.docx"):
    from tests.conftest import csrf_token

    token = csrf_token(client, "/dashboard")
    return client.post("/exports/template", data={"csrf_token": token, "template": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_association_base_document_is_used(app, client, admin, documented_case, db):
    login(client, admin)
    response = _upload(client, _docx_with_header("CIMADE LYON – 33 rue Imbert-Colomès"))
    assert response.status_code == 302
    assert services.template_path(admin.organisation) == app.config["TEMPLATE_DIR"] / f"org-{admin.org_id}.docx"
    assert services.template_path(admin.organisation).is_file()
    text = docx_text(_brief(client, documented_case.id))
    assert "CIMADE LYON" in text
    assert "Texte d'exemple" not in text
    assert "L. 911-4" in text
    assert db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.template")) is not None


def test_base_document_must_be_a_word_file(app, client, admin):
    login(client, admin)
    response = _upload(client, b"%PDF-1.4 not a docx", "modele.docx")
    assert response.status_code == 302
    assert not services.template_path(admin.organisation).exists()
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Modèle refusé" in page


def test_only_admins_upload_a_base_document(app, client, coordinator, lawyer):
    for user in (coordinator, lawyer):
        other = client.application.test_client()
        login(other, user)
        assert _upload(other, _docx_with_header("X")).status_code == 403
    assert not services.template_path(coordinator.organisation).exists()


def test_templates_are_stored_by_association_id(app, db, org):
    """Issue 16: « demo-lyon » and « demo-lyon- » once shared « demo-lyon.docx ». A file left
    under the old name moves to its association on first use, unless two slugs fold to it."""
    from app.auth.models import Organisation

    folder = app.config["TEMPLATE_DIR"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assoc-lyon.docx").write_bytes(b"modele-lyon")
    path = services.template_path(org)
    assert path.name == f"org-{org.id}.docx" and path.read_bytes() == b"modele-lyon"
    assert not (folder / "assoc-lyon.docx").exists()
    # Two associations created before slugs were checked, with the same folded name.
    first = Organisation(slug="demo-nice", name="Nice", ref_prefix="NIC")
    second = Organisation(slug="demo-nice-", name="Nice bis", ref_prefix="NIB")
    db.session.add_all([first, second])
    db.session.commit()
    (folder / "demo-nice.docx").write_bytes(b"a qui ?")
    assert not services.template_path(first).exists() and not services.template_path(second).exists()
    assert services.template_path(first) != services.template_path(second)
    assert (folder / "demo-nice.docx").exists()  # left for an admin to upload again


def test_cli_brief(app, tmp_path, org, other_org, documented_case, db):
    runner = app.test_cli_runner()
    out = tmp_path / "brief.docx"
    result = runner.invoke(args=["exports", "brief", documented_case.reference, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "L. 911-4" in docx_text(out.read_bytes())
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.brief"))
    assert record.actor_id is None and '"source":"cli"' in record.detail
    # The same reference in another association: ambiguous without --org.
    factories.case(other_org, None, reference=documented_case.reference)
    result = runner.invoke(args=["exports", "brief", documented_case.reference, "-o", str(out)])
    assert result.exit_code != 0 and "--org" in result.output
    result = runner.invoke(args=["exports", "brief", documented_case.reference, "--org", "assoc-paris",
                                 "-o", str(out)])
    assert result.exit_code != 0 and "chronologie est vide" in result.output  # AUCUNE: no document
    result = runner.invoke(args=["exports", "brief", documented_case.reference, "--org", "assoc-paris",
                                 "--route", "MESURES-UTILES", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Thị Minh Khai" not in docx_text(out.read_bytes())
    result = runner.invoke(args=["exports", "brief", "NOPE-1", "-o", str(out)])
    assert result.exit_code != 0 and "aucun dossier" in result.output


def test_forty_screenshots_are_all_annexed(client, org, lawyer):
    case = factories.case(org, lawyer)
    for i in range(12):
        add_exhibit(case, screenshot(100 + i), f"c{i}.png", lawyer, captured_at=datetime(2025, 3, 1 + i))
    login(client, lawyer)
    document = Document(io.BytesIO(_brief(client, case.id, route="MESURES-UTILES")))
    assert len(document.inline_shapes) == 12
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 2" and p.text.startswith("Pièce")] == \
        [f"Pièce n°{NBSP}{i}" for i in range(1, 13)]


def test_annexed_screenshots_keep_their_original_bytes_once_each(client, org, lawyer):
    """No recompression (the bytes in the Word file hash to the exhibit's SHA-256), one image part
    per distinct picture even when the same file is a pièce twice, part names unique."""
    import hashlib
    import zipfile

    case = factories.case(org, lawyer)
    pictures = [screenshot(300 + i) for i in range(3)]
    for i, picture in enumerate(pictures + [pictures[0]]):
        add_exhibit(case, picture, f"c{i}.png", lawyer, captured_at=datetime(2025, 3, 1 + i))
    login(client, lawyer)
    content = _brief(client, case.id, route="MESURES-UTILES")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        media = [n for n in archive.namelist() if n.startswith("word/media/")]
        hashes = {hashlib.sha256(archive.read(n)).hexdigest() for n in media}
        # Stored, not deflated a second time (PNG is compressed already); the XML parts still are.
        assert {archive.getinfo(n).compress_type for n in media} == {zipfile.ZIP_STORED}
        assert archive.getinfo("word/document.xml").compress_type == zipfile.ZIP_DEFLATED
    assert len(media) == len(set(media))
    assert {hashlib.sha256(p).hexdigest() for p in pictures} <= hashes
    document = Document(io.BytesIO(content))
    assert len(document.inline_shapes) >= 3
