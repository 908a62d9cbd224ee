"""Fixtures for the export tests: users of every role and a well-documented case."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tests import factories
from tests.exports.helpers import add_exhibit, screenshot


@pytest.fixture
def lawyer(org):
    return factories.user(org, "lawyer")


@pytest.fixture
def coordinator(org):
    return factories.user(org, "coordinator")


@pytest.fixture
def admin(org):
    return factories.user(org, "admin")


@pytest.fixture
def documented_case(org, lawyer):
    """A renewal blocked on ANEF: dated attempts, remedies, a référé won and not carried out (route
    EXECUTION), two screenshots."""
    case = factories.case(org, lawyer, last_name="Nguyễn", first_name="Thị Minh Khai", nationality="vietnamienne",
                          numero_etranger="0612345678", birth_date=date(1988, 5, 4), phone="0612345678",
                          email="minh@example.org", titre_actuel="salarié", titre_expiry=date(2025, 1, 31),
                          anef_number="ANEF-2025-998877", consequences=["EMPLOI", "CAF"],
                          narrative="Récit : <script>alert(1)</script> {{7*7}}")
    factories.event(case, "TENTATIVE", date(2025, 2, 12), "Message « une erreur technique est survenue ».")
    ccc = factories.event(case, "CCC", date(2025, 2, 20), "Appel au CCC, aucune solution.", reference="TICKET-4471")
    factories.event(case, "PAN", date(2025, 3, 1), "Le PAN renvoie vers le CCC.")
    factories.event(case, "SUBST", date(2025, 3, 10))
    factories.event(case, "REFERE", date(2025, 4, 2), "Référé mesures utiles, TA de Lyon.", outcome="L521-3")
    factories.event(case, "ORDONNANCE", date(2025, 4, 20), "Injonction au préfet de délivrer une API sous 8 jours.",
                    outcome="INJONCTION")
    add_exhibit(case, screenshot(1), "capture_anef.png", lawyer, description="Écran d'erreur de l'ANEF",
                captured_at=datetime(2025, 2, 12, 10, 30))
    add_exhibit(case, screenshot(2), "ticket.png", lawyer, description="Courriel du CCC",
                captured_at=datetime(2025, 2, 21, 9, 0), event_id=ccc.id)
    return case
