"""The masking function (app/privacy/masking.py): identities out, ordinary text kept."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from app.privacy.masking import MASK, identity_of, mask, redactor

PERSON = SimpleNamespace(first_name="Anya", last_name="Kowalczyk", numero_etranger="7512345678",
                         phone="06 12 34 56 78", email="anya.k@exemple.fr", birth_date=date(1990, 3, 12),
                         address="4 rue des Lilas\n69100 Villeurbanne")
IDENTITY = identity_of(PERSON)


@pytest.mark.parametrize(("text", "expected"), [
    # The security review's examples.
    ("Kowalczyk Anya", MASK),
    ("passeport_kowalczyk_anya.txt", f"passeport_{MASK}_{MASK}.txt"),
    ("Passeport de Anya Kowalczyk, née le 12/03/1990", f"Passeport de {MASK}, née le {MASK}"),
    # Person's values in any spelling.
    ("KOWALCZYK a rappelé", f"{MASK} a rappelé"),
    ("Kowalcyk a rappelé", f"{MASK} a rappelé"),  # one letter missing
    ("rappel au 06 12 34 56 78 ou +33 6 12 34 56 78", f"rappel au {MASK} ou {MASK}"),
    ("écrire à anya.k@exemple.fr", f"écrire à {MASK}"),
    ("née le 12 mars 1990", f"née le {MASK}"),
    ("hébergée au 4 rue des Lilas", f"hébergée au {MASK}"),
])
def test_masks_the_persons_own_values(text, expected):
    assert mask(text, IDENTITY) == expected


@pytest.mark.parametrize(("text", "leaked"), [
    ("Sa fille Olena est scolarisée à Lyon.", "Olena"),
    ("Son mari Петро Коваленко travaille.", "Петро"),
    ("Son mari Петро Коваленко travaille.", "Коваленко"),
    ("Né le 3 mars 1985 à Kharkiv.", "Kharkiv"),
    ("Né le 3 mars 1985 à Kharkiv.", "1985"),
    ("M. Jean-Pierre N'Diaye est venu.", "Diaye"),
    ("Mme Traoré est venue.", "Traoré"),
    ("Passeport de Moussa Keita", "Keita"),
    ("Demande ANEF-69-2025-000012 déposée.", "000012"),
    ("Ticket 2025-CCC-884213 ouvert.", "884213"),
    ("Référence 1234567890.", "1234567890"),
    ("LRAR 1A 123 456 7890 1 envoyée.", "7890"),
    ("Passeport n° 12AB34567.", "12AB34567"),
    ("Hébergée chez sa sœur, 12 bis avenue Jean Jaurès, 69007 Lyon.", "Jaurès"),
    ("Hébergée chez sa sœur, 12 bis avenue Jean Jaurès, 69007 Lyon.", "69007"),
    ("Contact : voisin.solidaire@exemple.org", "voisin.solidaire"),
])
def test_masks_identities_it_finds_by_pattern(text, leaked):
    assert leaked not in mask(text, IDENTITY)
    assert leaked not in mask(text)  # without any Person record: the patterns alone


@pytest.mark.parametrize("text", [
    "Une erreur technique est survenue à chaque tentative de paiement du timbre fiscal.",
    "La préfecture du Rhône n'a pas répondu ; saisine du Défenseur des droits en 2025.",
    "Aucun rendez-vous disponible, France Travail a radié la personne (code FX-9087).",
    "Le titre de séjour « vie privée et familiale » expire dans 3 mois.",
])
def test_keeps_ordinary_text(text):
    assert mask(text, IDENTITY) == text


def test_redactor_depends_on_the_role():
    case = SimpleNamespace(person=PERSON)
    text = "Passeport de Anya Kowalczyk"
    assert redactor(case, True)(text) == text
    assert redactor(case, False)(text) == f"Passeport de {MASK}"
    assert redactor(SimpleNamespace(person=None), False)("M. Kowalczyk, 1234567890") == f"M. {MASK}, {MASK}"
    assert redactor(case, False)("") == ""
