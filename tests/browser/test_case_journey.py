"""The volunteer's main journey in a real browser: log in, open a case, add two events."""

from tests.browser.conftest import browser_login, screenshot
from tests.conftest import PASSWORD

import pytest

pytestmark = pytest.mark.browser


def test_volunteer_creates_case_and_timeline(live_server, page, volunteer):
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.get_by_role("link", name="Nouveau dossier").first.click()
    page.get_by_label("Préfecture (département)").select_option("69")
    page.get_by_label("Démarche", exact=True).select_option("RENOUV")
    page.get_by_label("Blocage principal").select_option("API-ABS")
    page.get_by_label("Récit").fill("Demande complète déposée, aucune API délivrée. <script>alert(1)</script>")
    page.get_by_label("Nom", exact=True).fill("Traoré")
    page.get_by_label("Prénom").fill("Fatoumata")
    page.get_by_label("Expiration du titre actuel").fill("2025-01-15")
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_selector("text=Dossier LYO-")
    assert page.locator("h1").inner_text().startswith("Dossier LYO-")

    for when, kind, text in (("2025-01-03", "TENTATIVE", "Erreur technique au paiement du timbre."),
                             ("2025-02-10", "CCC", "Ticket ouvert auprès du CCC, sans réponse.")):
        page.get_by_label("Date", exact=True).fill(when)
        page.get_by_label("Type d'événement").select_option(kind)
        page.get_by_label("Ce qui s'est passé").fill(text)
        page.get_by_role("button", name="Ajouter à la chronologie").click()
        page.wait_for_selector(f"text={text}")

    events = page.locator("ol.timeline li.event")
    assert events.count() == 2
    assert "3 janvier 2025" in events.nth(0).inner_text()
    assert "10 février 2025" in events.nth(1).inner_text()
    assert "1 mois" in page.locator("ol.timeline li.gap").first.inner_text()
    assert page.locator("#recit").inner_text().endswith("<script>alert(1)</script>")
    assert page.dialogs == []
    screenshot(page, "case-journey")
