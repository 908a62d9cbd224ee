"""Search fixtures: a small realistic register with known cases to find, in two associations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from app.cases.models import Case
from tests import factories


@dataclass
class Register:
    ivanov: Case
    nguyen: Case
    diallo: Case
    benali: Case
    rdv: Case
    other: Case


NOISE = [
    "Le dossier a été déposé en ligne, la préfecture accuse réception. Attente d'une réponse.",
    "Demande de duplicata après perte de la carte ; rien n'a bougé depuis le dépôt.",
    "Accompagnement pour créer le compte ANEF, la personne n'a pas d'adresse électronique.",
    "Changement d'adresse impossible sur la plateforme, message d'erreur générique.",
    "Attente d'une convocation pour la biométrie depuis plusieurs semaines.",
]


@pytest.fixture
def register(org, other_org) -> Register:
    """Known cases (and some noise) in `org`; a look-alike case in `other_org`."""
    ivanov = factories.case(
        org, last_name="Иванов", first_name="Алексей", numero_etranger="7512345678",
        phone="06 12 34 56 78", email="alexei.ivanov@exemple.fr",
        anef_number="ANEF-69-2025-000012",
        narrative="Le récépissé de demande n'a jamais été délivré. Licenciée de son poste d'aide-soignante "
                  "faute de titre de séjour valide.")
    factories.event(ivanov, "CCC", description="Appel au centre de contact citoyen, ticket ouvert",
                    reference="2025-CCC-884213")
    nguyen = factories.case(
        org, last_name="Nguyễn", first_name="Văn Đức", prefecture="38", demarche="PREMIERE",
        narrative="Une erreur technique est survenue à chaque tentative de paiement du timbre fiscal.")
    factories.event(nguyen, "PREF", description="Lettre recommandée à la préfecture de l'Isère",
                    reference="1A 123 456 7890 1")
    diallo = factories.case(
        org, last_name="Diallo", first_name="Mariam", status="EN-COURS", blocages=["INSTR-SILENCE"],
        narrative="Dossier en cours d'instruction depuis huit mois, aucune réponse de la préfecture.")
    benali = factories.case(
        org, last_name="بن علي", first_name="أحمد", blocages=["API-RENOUV"],
        narrative="L'attestation de prolongation d'instruction a expiré, la CAF suspend les allocations. "
                  "<script>alert('x')</script> copié depuis un courriel.")
    rdv = factories.case(
        org, last_name="Koné", first_name="Awa", prefecture="93", blocages=["RDV"],
        narrative="Aucun rendez-vous disponible pour la remise du titre ; la personne a perdu son emploi.",
        first_attempt=date(2025, 1, 15))
    for i, text in enumerate(NOISE * 3):
        factories.case(org, last_name=f"Personne{i}", first_name="Test", narrative=text,
                       prefecture=["69", "75", "13"][i % 3])
    other = factories.case(
        other_org, last_name="Иванов", first_name="Алексей", numero_etranger="7599999999",
        anef_number="ANEF-75-2025-000099",
        narrative="Le récépissé n'a jamais été délivré ; licenciée ; erreur technique est survenue.")
    factories.event(other, "CCC", description="Ticket CCC", reference="2025-CCC-884214")
    return Register(ivanov, nguyen, diallo, benali, rdv, other)
