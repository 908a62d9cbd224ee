"""The Télérecours bundle (issue 10, parts 3–4): one PDF per pièce named in inventory order, the
inventory first, the requête without annexes, the non-filing files apart, and the standard pièces
a case lacks shown as placeholders."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import date, datetime

import pytest
from docx import Document
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from app.audit.models import AuditRecord
from app.evidence.models import CustodyRecord, Exhibit
from app.exports import services
from app.exports.bundle import NOT_FILED, exhibit_filename, inventory_filename
from app.exports.pieces import missing_standard_pieces, placeholder
from app.exports.rows import CaseRow, EventRow, ExhibitRow
from app.exports.text import NBSP
from app.extensions import db
from tests import factories
from tests.conftest import login
from tests.exports.helpers import docx_text, screenshot, soffice_or_skip

PIECE = re.compile(r"^(\d{2,})_[a-z0-9-]+_(\d{4}-\d{2}-\d{2}|sans-date)\.pdf$")


@pytest.fixture
def no_soffice(app):
    """Most tests do without LibreOffice (1–2 s a run); those that need it ask for it."""
    app.config["SOFFICE"] = ""


def _bundle(client, case) -> zipfile.ZipFile:
    response = client.get(f"/cases/{case.id}/exhibits.zip", buffered=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"telerecours_")
    assert int(response.headers["Content-Length"]) == len(response.data)
    return zipfile.ZipFile(io.BytesIO(response.data))


def _manifest(archive) -> dict:
    return json.loads(archive.read(f"{NOT_FILED}/manifeste.json"))


def _readme(archive) -> str:
    return archive.read(f"{NOT_FILED}/LISEZMOI.txt").decode("utf-8-sig")


def _add(case, content: bytes, filename: str, actor, **kwargs):
    from app.evidence.services import add_exhibit as add

    exhibit = add(case, content, filename, actor, **kwargs).exhibit
    db.session.commit()
    return exhibit


def _image(fmt: str, size=(300, 120), orientation: int | None = None, **options) -> bytes:
    image = Image.new("RGB", size, (200, 30, 40))
    image.paste((20, 40, 200), (0, 0, size[0] // 3, size[1]))
    buffer = io.BytesIO()
    if orientation:
        exif = image.getexif()
        exif[0x0112] = orientation
        options["exif"] = exif
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _pdf(pages: int, password: str | None = None, owner: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    if password is not None:
        writer.encrypt(user_password=password, owner_password=owner, algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _shown_size(page) -> tuple[float, float]:
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    return (height, width) if page.rotation % 180 else (width, height)


def test_every_piece_is_a_pdf_named_in_inventory_order(app, client, lawyer, documented_case, no_soffice):
    long = _add(documented_case, screenshot(9), "Ça « marche » pas – écran n°3 (copie).png", lawyer,
                description="Écran « Votre démarche n'a pas pu aboutir » : ÉCHEC réitéré à l'identique, "
                            "ça bloque depuis des semaines et des semaines sans la moindre réponse",
                captured_at=datetime(2025, 3, 3))
    _add(documented_case, _image("JPEG", orientation=6), "photo_courrier.jpg", lawyer, nature="COURRIER",
         captured_at=datetime(2025, 3, 4))
    _add(documented_case, _image("WEBP", lossless=True), "capture.webp", lawyer)
    _add(documented_case, _image("HEIF", quality=-1), "IMG_0001.HEIC", lawyer, nature="PHOTO")
    sixty = _pdf(60)
    _add(documented_case, sixty, "decision.pdf", lawyer, nature="DECISION", description="Décision de 60 pages")
    login(client, lawyer)

    with _bundle(client, documented_case) as archive:
        names = archive.namelist()
        manifest = _manifest(archive)
        root = [n for n in names if "/" not in n]
        # The inventory first (Word here: no LibreOffice), then the pièces, then the requête.
        assert root[0] == "00_inventaire_" + documented_case.reference.lower() + ".docx"
        pieces = [n for n in root if PIECE.match(n)]
        assert len(pieces) == 7 and sorted(root)[0] == root[0]
        assert [int(PIECE.match(n).group(1)) for n in pieces] == list(range(1, 8))
        assert pieces == sorted(pieces)
        assert len(set(pieces)) == len(pieces) and len({n[:3] for n in pieces}) == len(pieces)
        for name in names:
            assert name.isascii() and len(name.rsplit("/", 1)[-1]) <= 80, name
        assert pieces[0] == "01_capture-d-ecran-ecran-d-erreur-de-l-anef_2025-02-12.pdf"
        assert manifest["a_deposer"] == [root[0], *pieces]

        stored = {x.number: x for x in db.session.scalars(select(Exhibit).where(
            Exhibit.case_id == documented_case.id))}
        for entry, name in zip(manifest["pieces"], pieces, strict=True):
            content = archive.read(name)
            assert content.startswith(b"%PDF")
            reader = PdfReader(io.BytesIO(content))
            assert not reader.is_encrypted
            assert entry["fichier"] == name and entry["etat"] == "incluse"
            assert entry["sha256_pdf"] == hashlib.sha256(content).hexdigest()
            original = services.locate_exhibit(stored[entry["numero"]].sha256).read_bytes()
            assert entry["sha256_origine"] == hashlib.sha256(original).hexdigest() == stored[entry["numero"]].sha256
            if entry["numero"] == 7:  # the 60-page PDF: passed through byte for byte, nothing kept apart
                assert content == sixty and len(reader.pages) == 60 == entry["pages"]
                assert entry["conversion"] == "pdf-tel-quel" and entry["original"] is None
            else:  # an image: one page, the original kept apart with its own hash
                assert len(reader.pages) == 1 == entry["pages"]
                assert entry["conversion"] in ("image-sans-perte", "image-png-sans-perte")
                assert archive.read(entry["original"]) == original
                assert entry["original"].startswith(f"{NOT_FILED}/originaux/")

        # Lossless: the PNG's pixels are the PDF's pixels.
        page = PdfReader(io.BytesIO(archive.read(pieces[0]))).pages[0]
        embedded = page.images[0].image.convert("RGB")
        assert embedded.tobytes() == Image.open(io.BytesIO(screenshot(1))).convert("RGB").tobytes()
        # A wide screenshot lies on a landscape A4 page; the photo with EXIF rotation 6 shows upright.
        assert _shown_size(page) == pytest.approx((841.89, 595.28), abs=0.1)
        rotated = PdfReader(io.BytesIO(archive.read(pieces[3]))).pages[0]
        width, height = _shown_size(rotated)
        assert height > width
        assert manifest["pieces"][2]["nom_origine"].startswith("Ça « marche »")
        assert long.number == 3

        # The requête without annexes, for filing; apart, the editable inventory is not duplicated.
        requete = [n for n in root if n.startswith("requete_")]
        assert requete == [f"requete_execution_{documented_case.reference.lower()}.docx"]
        assert len(Document(io.BytesIO(archive.read(requete[0]))).inline_shapes) == 0
        assert manifest["requete"] == {"fichier": requete[0], "motif": None}
        readme = _readme(archive)
        assert "À DÉPOSER SUR TÉLÉRECOURS" in readme and f"NE PAS DÉPOSER le dossier {NOT_FILED}/" in readme
        assert "LibreOffice est absent" in readme and pieces[0] in readme


def test_requete_for_print_keeps_its_annexes(app, client, lawyer, documented_case, no_soffice):
    login(client, lawyer)
    brief = client.get(f"/cases/{documented_case.id}/brief.docx")
    assert len(Document(io.BytesIO(brief.data)).inline_shapes) == 2
    with _bundle(client, documented_case) as archive:
        name = next(n for n in archive.namelist() if n.startswith("requete_"))
        filed = archive.read(name)
    assert len(Document(io.BytesIO(filed)).inline_shapes) == 0
    text = docx_text(filed).replace(NBSP, " ")
    assert "Pièce n° 1" in text and "Pièce n° 2" in text


def test_texts_and_inventory_through_libreoffice(app, client, lawyer, documented_case):
    app.config["SOFFICE"] = soffice_or_skip()
    _add(documented_case, "Note de la permanence : l'ANEF affiche « erreur technique ». Nguyễn Иван\n".encode(),
         "note.txt", lawyer)
    mail = ("From: Préfecture <pref@example.org>\r\nTo: minh@example.org\r\nSubject: =?utf-8?q?Votre_demande_de_rendez-vous?=\r\n"
            "Date: Mon, 3 Mar 2025 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Aucun créneau disponible.\r\n").encode()
    _add(documented_case, mail, "reponse.eml", lawyer)
    login(client, lawyer)
    with _bundle(client, documented_case) as archive:
        names = archive.namelist()
        manifest = _manifest(archive)
        reference = documented_case.reference.lower()
        assert names[0] == f"00_inventaire_{reference}.pdf"
        assert f"{NOT_FILED}/00_inventaire_{reference}.docx" in names
        inventory = PdfReader(io.BytesIO(archive.read(names[0])))
        assert "Pièce n° 4" in inventory.pages[0].extract_text().replace(NBSP, " ")
        text, mail_entry = manifest["pieces"][2], manifest["pieces"][3]
        assert text["conversion"] == "texte-libreoffice" and mail_entry["conversion"] == "courriel-libreoffice"
        mail_pdf = PdfReader(io.BytesIO(archive.read(mail_entry["fichier"])))
        content = mail_pdf.pages[0].extract_text()
        assert "Votre demande de rendez-vous" in content and "Aucun créneau disponible." in content
        assert "erreur technique" in PdfReader(io.BytesIO(archive.read(text["fichier"]))).pages[0].extract_text()
        assert archive.read(text["original"]).startswith(b"Note de la permanence")
        assert manifest["inventaire"]["fichier"] == names[0] and "motif" not in manifest["inventaire"]


def test_text_without_libreoffice_is_refused_with_its_reason(app, client, lawyer, documented_case, no_soffice):
    _add(documented_case, b"Note de la permanence.\n", "note.txt", lawyer)
    login(client, lawyer)
    with _bundle(client, documented_case) as archive:
        entry = _manifest(archive)["pieces"][2]
        assert entry["etat"] == "refusee" and entry["fichier"] is None
        assert "LibreOffice est absent" in entry["motif"]
        assert archive.read(entry["original"]) == b"Note de la permanence.\n"
        assert not any(n.startswith("03_") for n in archive.namelist())
        assert "Pièce n° 3 (refusée)" in _readme(archive)


def test_missing_altered_and_unconvertible_pieces(app, client, org, lawyer, documented_case, no_soffice):
    from app.evidence.storage import store

    # An image the upload checks would refuse today, stored before they existed.
    broken = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"IEND"
    sha, size = store().put(broken)
    db.session.add(Exhibit(case_id=documented_case.id, number=3, sha256=sha, size=size, mime="image/png",
                           extension="png", original_name="vieille_capture.png", nature="CAPTURE"))
    _add(documented_case, screenshot(4), "altered.png", lawyer)
    rows = services.rows_mod.exhibit_rows(documented_case.id, services.locate_exhibit)
    gone = services.locate_exhibit(rows[1].sha256)
    gone.chmod(0o644)
    gone.unlink()
    altered = services.locate_exhibit(rows[3].sha256)
    altered.chmod(0o644)
    altered.write_bytes(screenshot(5))
    login(client, lawyer)
    with _bundle(client, documented_case) as archive:
        manifest = _manifest(archive)
        states = [(p["numero"], p["etat"]) for p in manifest["pieces"]]
        assert states == [(1, "incluse"), (2, "manquante"), (3, "refusee"), (4, "alteree")]
        missing, refused, changed = manifest["pieces"][1:]
        assert "introuvable" in missing["motif"] and missing["fichier"] is None
        assert "ne peut pas être convertie en PDF" in refused["motif"]
        assert archive.read(refused["original"]) == broken
        assert changed["sha256_lu"] == hashlib.sha256(screenshot(5)).hexdigest() != changed["sha256_origine"]
        assert changed["original"] is None and "evidence verify" in changed["motif"]
        assert [n for n in archive.namelist() if PIECE.match(n)] == [manifest["pieces"][0]["fichier"]]
        inventory = docx_text(archive.read(manifest["inventaire"]["fichier"])).replace(NBSP, " ")
        assert "Pièce n° 4" in inventory and "(fichier manquant)" in inventory
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.exhibits_zip"))
    assert '"missing":1' in record.detail.replace(" ", "") and '"refused":1' in record.detail.replace(" ", "")


def test_encrypted_pdfs(app, client, lawyer, documented_case, no_soffice):
    _add(documented_case, _pdf(2, password="secret"), "verrou.pdf", lawyer)
    owner_only = _pdf(3, password="", owner="proprietaire")
    _add(documented_case, owner_only, "attestation_caf.pdf", lawyer, nature="PRESTATIONS")
    login(client, lawyer)
    with _bundle(client, documented_case) as archive:
        locked, restricted = _manifest(archive)["pieces"][2:]
        assert locked["etat"] == "refusee" and "mot de passe d'ouverture" in locked["motif"]
        assert archive.read(locked["original"]) == _pdf_bytes(documented_case, 3)
        assert restricted["etat"] == "incluse" and restricted["conversion"] == "pdf-deverrouille"
        unlocked = PdfReader(io.BytesIO(archive.read(restricted["fichier"])))
        assert not unlocked.is_encrypted and len(unlocked.pages) == 3 == restricted["pages"]
        assert archive.read(restricted["original"]) == owner_only


def _pdf_bytes(case, number: int) -> bytes:
    sha = db.session.scalar(select(Exhibit.sha256).where(Exhibit.case_id == case.id, Exhibit.number == number))
    return services.locate_exhibit(sha).read_bytes()


def test_a_case_without_exhibit_nor_route(app, client, org, lawyer, no_soffice):
    case = factories.case(org, lawyer, demarche="PREMIERE")
    login(client, lawyer)
    with _bundle(client, case) as archive:
        names = archive.namelist()
        manifest = _manifest(archive)
        assert [n for n in names if "/" not in n] == [f"00_inventaire_{case.reference.lower()}.docx"]
        assert manifest["pieces"] == [] and manifest["requete"]["fichier"] is None
        assert manifest["requete"]["motif"].startswith("Aucune requête n'est à déposer")
        inventory = docx_text(archive.read(names[0])).replace(NBSP, " ")
        assert "Aucune pièce n'est enregistrée" in inventory
        assert "[À FOURNIR : passeport" in inventory
        readme = _readme(archive)
        assert "Aucune requête n'a été rédigée" in readme and "Aucune pièce n'est prête" in readme


def test_custody_and_audit_name_the_zip(app, client, lawyer, documented_case, no_soffice):
    login(client, lawyer)
    response = client.get(f"/cases/{documented_case.id}/exhibits.zip", buffered=True)
    digest = hashlib.sha256(response.data).hexdigest()
    custody = db.session.scalars(select(CustodyRecord).where(CustodyRecord.action == "exported")).all()
    assert len(custody) == 2 and all(digest in c.detail for c in custody)
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.exhibits_zip"))
    assert digest in record.detail and '"route":"EXECUTION"' in record.detail.replace(" ", "")
    assert not list((app.config["DATA_DIR"] / "tmp").iterdir())  # nothing left behind


def test_cli_bundle_zip_alias_and_unknown_reference(app, tmp_path, lawyer, documented_case, no_soffice):
    runner = app.test_cli_runner()
    for command in ("bundle", "zip"):
        out = tmp_path / f"{command}.zip"
        result = runner.invoke(args=["exports", command, documented_case.reference, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "SHA-256" in result.output and "2 pièce(s) en PDF sur 2" in result.output
        assert "à fournir : passeport" in result.output
        with zipfile.ZipFile(out) as archive:
            assert [n for n in archive.namelist() if PIECE.match(n)][0].startswith("01_")
    unknown = runner.invoke(args=["exports", "bundle", "NOPE-0000", "-o", str(tmp_path / "x.zip")])
    assert unknown.exit_code != 0 and "introuvable" in unknown.output
    assert not (tmp_path / "x.zip").exists()
    assert db.session.scalar(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "export.exhibits_zip")) == 2


# --- the standard pièces a case lacks ----------------------------------------------------------

def _row(demarche="RENOUV", events=(), consequences=()) -> CaseRow:
    return CaseRow(id=1, reference="R", pseudonym="P", prefecture="69", demarche=demarche, status="OUVERT",
                   consequences=tuple(consequences),
                   events=[EventRow(i, date(2025, 1, 1 + i), t) for i, t in enumerate(events)])


def _exhibit(number: int, nature: str) -> ExhibitRow:
    return ExhibitRow(number=number, stored_number=number, sha256="0" * 64, mime="image/png", extension="png",
                      original_name="x.png", description="", captured_at=None, added_at=None, event_id=None,
                      path=None, nature=nature)


def test_missing_standard_pieces_rules():
    assert missing_standard_pieces(_row("PREMIERE"), []) == ["passeport (pages d'identité et de validité)"]
    labels = missing_standard_pieces(_row(events=["DEPOT", "PREF", "EMPLOI", "PRESTA"]), [])
    assert [label.split(" ")[0] for label in labels] == ["titre", "passeport", "attestation", "accusé",
                                                          "justificatif", "justificatif"]
    assert len(missing_standard_pieces(_row("PREMIERE", events=["TITRE-EXP", "SUBST"]), [])) == 3
    assert len(missing_standard_pieces(_row("PREMIERE", consequences=["EMPLOI", "CAF"]), [])) == 3
    provided = [_exhibit(1, "TITRE"), _exhibit(2, "PASSEPORT"), _exhibit(3, "ATTESTATION"),
                _exhibit(4, "ACCUSE-LRAR"), _exhibit(5, "EMPLOI"), _exhibit(6, "PRESTATIONS")]
    assert missing_standard_pieces(_row(events=["DEPOT", "PREF", "EMPLOI", "PRESTA"]), provided) == []
    assert placeholder("passeport") == "[À FOURNIR : passeport]" == placeholder("[À FOURNIR : passeport]")


def test_bordereau_shows_missing_pieces_highlighted(app, client, lawyer, documented_case, no_soffice):
    from docx.enum.text import WD_COLOR_INDEX

    factories.event(documented_case, "DEPOT", date(2025, 1, 10))
    _add(documented_case, _image("PNG"), "passeport.png", lawyer, nature="PASSEPORT")
    login(client, lawyer)
    with _bundle(client, documented_case) as archive:
        content = archive.read(_manifest(archive)["inventaire"]["fichier"])
    text = docx_text(content).replace(NBSP, " ")
    assert "[À FOURNIR : attestation de dépôt" in text and "[À FOURNIR : titre de séjour expiré" in text
    assert "[À FOURNIR : passeport" not in text and "Pièce n° 3" in text and "Passeport" in text
    table = Document(io.BytesIO(content)).tables[0]
    placeholders = [row for row in table.rows if "À FOURNIR" in row.cells[1].text]
    assert len(placeholders) == 5  # titre, attestation, accusé LRAR, emploi, prestations (consequences)
    for row in placeholders:
        run = row.cells[1].paragraphs[0].runs[0]
        assert run.bold and run.font.highlight_color == WD_COLOR_INDEX.YELLOW


def test_requete_bordereau_accepts_missing_pieces():
    """`_bordereau` keeps its old signature; `missing` adds the placeholders (the requête's bordereau)."""
    from app.exports.docx import _bordereau, _new_document
    from app.exports.services import brief_texts

    texts = brief_texts()
    plain, with_missing = _new_document(None), _new_document(None)
    _bordereau(plain, [_exhibit(1, "CAPTURE")], texts, page_break=True)
    _bordereau(with_missing, [_exhibit(1, "CAPTURE")], texts, page_break=True, missing=["passeport"])
    assert len(plain.tables[0].rows) == 2 and len(with_missing.tables[0].rows) == 3
    assert with_missing.tables[0].rows[2].cells[1].text.replace(NBSP, " ") == "[À FOURNIR : passeport]"


def test_names_stay_sorted_past_99_pieces():
    row = ExhibitRow(number=7, stored_number=9, sha256="0" * 64, mime="image/png", extension="png",
                     original_name="x", description="Écran « d'erreur » " * 20, captured_at=None, added_at=None,
                     event_id=None, path=None)
    name = exhibit_filename(row, {"image": "Capture d'écran"}, width=3, extension="pdf")
    assert name.startswith("007_capture-d-ecran-ecran-d-erreur") and name.endswith("_sans-date.pdf")
    assert len(name) <= 80 and name.isascii()
    inventory = inventory_filename("LYO-2025-0042 « test »", 3, "pdf")
    assert inventory == "000_inventaire_lyo-2025-0042-test.pdf" and sorted([name, inventory])[0] == inventory
    assert len(inventory_filename("X" * 200, 2, "docx")) <= 80
