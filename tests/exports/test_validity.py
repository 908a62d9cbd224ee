"""Every file the exports make opens in LibreOffice (converted to PDF headless), hostile input included."""

from __future__ import annotations

from datetime import date

import pytest

from app.exports.bundle import exhibit_filename
from app.exports.rows import ExhibitRow
from app.exports.text import ascii_slug, typo_fr, xml_safe
from tests import factories
from tests.conftest import login
from tests.exports.helpers import convert_to_pdf, soffice_or_skip
from tests.exports.test_xlsx import HOSTILE, _population


@pytest.mark.slow
def test_libreoffice_opens_every_export(app, client, tmp_path, org, other_org, admin, documented_case):
    soffice_or_skip()
    _population(org, other_org)
    empty = factories.case(org, None, last_name="", first_name="")
    hostile = factories.case(org, None, last_name="Иванов", first_name="محمد", narrative=HOSTILE[-1])
    for i, text in enumerate(HOSTILE[:-1]):
        factories.event(hostile, "ERREUR", date(2025, 1, 10 + i), text)
    factories.event(hostile, "AUTRE", date(2025, 2, 1), "é" * 10_000)
    login(client, admin)
    files = {
        "anonymise.xlsx": client.get("/exports/cases.xlsx").data,
        "identifie.xlsx": client.get("/exports/cases.xlsx?identified=1").data,
        "dossier.docx": client.get("/exports/dossier.docx").data,
        "memoire.docx": client.get(f"/cases/{documented_case.id}/brief.docx").data,
        "memoire_vide.docx": client.get(f"/cases/{empty.id}/brief.docx?route=MESURES-UTILES").data,
        "requete_suspension.docx": client.get(f"/cases/{hostile.id}/brief.docx?route=SUSPENSION").data,
        "requete_nouvelle.docx": client.get(f"/cases/{documented_case.id}/brief.docx?route=NOUVELLES-CIRCONSTANCES").data,
        "memoire_hostile.docx": client.get(f"/cases/{hostile.id}/brief.docx").data,
    }
    paths = []
    for name, content in files.items():
        assert content[:2] == b"PK", name
        path = tmp_path / name
        path.write_bytes(content)
        paths.append(path)
    pdfs = convert_to_pdf(paths, tmp_path / "pdf")
    # The brief with its two annexed screenshots runs over several pages.
    from pypdf import PdfReader

    assert len(PdfReader(pdfs[3]).pages) >= 4
    assert "<script>alert(1)</script>" in "".join(p.extract_text() for p in PdfReader(pdfs[5]).pages)


def test_text_helpers():
    assert xml_safe("a\x00b\x0bc\x1fd\ufffe\ttab\nline") == "abcd\ttab\nline"
    assert typo_fr("Objet : « test » ; vraiment ? oui ! 10:30 https://x") == \
        "Objet\u00a0: «\u00a0test\u00a0»\u00a0; vraiment\u00a0? oui\u00a0! 10:30 https://x"
    assert ascii_slug("Écran « Votre démarche » – cœur n°3 ÇA") == "ecran-votre-demarche-coeur-n3-ca"


def test_exhibit_filenames_stay_short_ascii():
    row = ExhibitRow(number=7, stored_number=9, sha256="0" * 64, mime="image/jpeg", extension="JPEG",
                     original_name="x", description="Ça « marche » " * 40, captured_at=None, added_at=None,
                     event_id=None, path=None)
    name = exhibit_filename(row, {"image": "Capture d'écran"})
    assert name.startswith("07_capture-d-ecran-ca-marche") and name.endswith("_sans-date.jpeg")
    assert len(name) <= 80 and name.isascii()
    assert exhibit_filename(row, {}, width=3).startswith("007_")
