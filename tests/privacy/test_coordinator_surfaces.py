"""Issue 16 part 2: a coordinator sees none of a person's identity on any surface, and finds
nothing searching it; a volunteer still sees and finds everything.

The security review's examples (event reference « Kowalczyk Anya », file
« passeport_kowalczyk_anya.txt », description « Passeport de Anya Kowalczyk, née le 12/03/1990 »,
a number in an event reference, a word only in OCR text, relatives' names, addresses, birth dates,
misspellings and Cyrillic spellings) driven through the case page, the search page and its
excerpts, the anonymised workbook and the dossier.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

import pytest

from app.cases.services import enqueue_index
from app.search import services as search
from tests import factories
from tests.conftest import login
from tests.privacy.helpers import exhibit, png_bytes

NARRATIVE = ("Mme Kowalczyk vit avec sa fille Olena au 4 rue des Lilas, 69100 Villeurbanne. "
             "Son mari Петро Коваленко, né le 3 mars 1985 à Kharkiv, l'accompagne. "
             "Blocage sur la plateforme depuis des mois, préfecture injoignable.")
REFERENCE_NAME = "Kowalczyk Anya"
FILE_NAME = "passeport_kowalczyk_anya.txt"
DESCRIPTION = "Passeport de Anya Kowalczyk, née le 12/03/1990"
OCR = "RÉPUBLIQUE DE POLOGNE PASZPORT Nom KOWALCZYK Prénoms ANYA Lieu de naissance Przemyśl"

# Nothing of this may reach a coordinator (compared lower-cased, accents kept).
FORBIDDEN = ["kowalczyk", "anya", "12/03/1990", "1234567890", "7512345678", "06 12 34 56 78",
             "anya.k@exemple.fr", "olena", "lilas", "villeurbanne", "69100", "петро", "коваленко", "kharkiv",
             "3 mars 1985", "przemy", "paszport", "anef-69-2025-000012"]
# What a coordinator types, hoping to find the case.
SEARCHES = ["1234567890", "Kowalczyk", "kowalczyk anya", "Kowalczik", "Anya", "Przemyśl", "Przemysl", "paszport",
            "Olena", "Olna", "Коваленко", "Kovalenko", "Петро", "Petro", "Kharkiv", "Lilas", "rue des Lilas",
            '"rue des Lilas"', "Villeurbanne", "69100", "12/03/1990", "1990", "1985", "\"3 mars 1985\"",
            "7512345678", "0612345678", "anya.k@exemple.fr", "passeport_kowalczyk_anya.txt",
            "ANEF-69-2025-000012", "000012", "kowal*"]


@pytest.fixture
def anya(org, db):
    case = factories.case(org, last_name="Kowalczyk", first_name="Anya", numero_etranger="7512345678",
                          phone="06 12 34 56 78", email="anya.k@exemple.fr", birth_date=date(1990, 3, 12),
                          address="4 rue des Lilas\n69100 Villeurbanne", narrative=NARRATIVE,
                          anef_number="ANEF-69-2025-000012", consent_date=date(2025, 1, 2),
                          consent_followup=True, consent_statistics=True)
    factories.event(case, "PREF", description="Courrier remis en main propre", reference=REFERENCE_NAME)
    factories.event(case, "CCC", description="Appel au centre de contact citoyen", reference="1234567890")
    exhibit(case, png_bytes(1), name=FILE_NAME, description=DESCRIPTION, ocr_text=OCR)
    enqueue_index(case.id)
    db.session.commit()
    return case


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [word for word in FORBIDDEN if word in lowered]


def _package_text(data: bytes) -> str:
    """Every XML part of an Office file, tags removed (words split across runs are rejoined)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(re.sub(r"<[^>]+>", "", archive.read(name).decode("utf-8", "replace"))
                         for name in archive.namelist() if name.endswith((".xml", ".rels")))


def test_coordinator_sees_and_finds_no_identity_anywhere(client, org, anya):
    coordinator = factories.user(org, "coordinator")
    login(client, coordinator)

    page = client.get(f"/cases/{anya.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _leaks(html) == [], "case page"
    assert "[…]" in html and "injoignable" in html  # masked, not emptied

    for text in SEARCHES:
        assert search.search(org.id, text, None, identity=False).total == 0, text
        assert anya.id not in search.matching_case_ids(org.id, text, None, identity=False), text
        response = client.get("/search", query_string={"q": text})
        assert response.status_code == 200
        assert anya.reference not in response.get_data(as_text=True), text

    # Found by what it may see, with masked excerpts only.
    for text in ("injoignable", "passeport", "courrier remis", "centre de contact", anya.reference):
        results = search.search(org.id, text, None, identity=False)
        assert results.references() == [anya.reference], text
        shown = " ".join(str(e.html) for h in results.hits for e in h.excerpts)
        assert _leaks(shown) == [], (text, shown)
        page = client.get("/search", query_string={"q": text}).get_data(as_text=True)
        assert anya.reference in page and _leaks(page.replace(text, "")) == [], text

    workbook = client.get("/exports/cases.xlsx")
    assert workbook.status_code == 200, workbook.status_code
    assert _leaks(_package_text(workbook.data)) == [], "workbook"
    dossier = client.get("/exports/dossier.docx")
    assert dossier.status_code == 200, dossier.status_code
    assert _leaks(_package_text(dossier.data)) == [], "dossier"


def test_volunteer_still_sees_and_finds_everything(client, org, anya, volunteer):
    login(client, volunteer)
    html = client.get(f"/cases/{anya.id}").get_data(as_text=True)
    for shown in (REFERENCE_NAME, FILE_NAME, DESCRIPTION, "1234567890", "Olena", "Петро Коваленко",
                  "ANEF-69-2025-000012"):
        assert shown in html, shown
    for text in ("1234567890", "Kowalczyk", "Anya Kowalczyk", "Przemyśl", "paszport", "Olena", "Коваленко",
                 "Kharkiv", "rue des Lilas", '"rue des Lilas"', "Villeurbanne", "7512345678",
                 "0612345678", "ANEF-69-2025-000012", "12/03/1990"):
        assert search.search(org.id, text, None, identity=True).references() == [anya.reference], text
    hit = search.search(org.id, "1234567890", None, identity=True).hits[0]
    assert "<mark>1234567890</mark>" in " ".join(str(e.html) for e in hit.excerpts)
    page = client.get("/search", query_string={"q": "Olena"}).get_data(as_text=True)
    assert anya.reference in page and "Anya KOWALCZYK" in page and "<mark>Olena</mark>" in page
