"""A volunteer adds screenshots to a case in a real browser: file picker, then drag and drop."""

import pytest

from tests import factories
from tests.browser.conftest import browser_login, screenshot
from tests.conftest import PASSWORD
from tests.evidence import files

pytestmark = pytest.mark.browser


def test_volunteer_uploads_a_screenshot_and_sees_it_listed(app, live_server, page, org, volunteer, tmp_path):
    case = factories.case(org, volunteer)
    shot = tmp_path / "erreur-anef.png"
    shot.write_bytes(files.screenshot("DEP-ERREUR", extra="Code erreur : ANEF-4242"))
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.goto(f"{live_server}/cases/{case.id}")

    page.get_by_label("Fichiers : captures d'écran").set_input_files(str(shot))
    assert "erreur-anef.png" in page.locator("[data-filelist]").inner_text()
    page.get_by_label("Description").fill("Erreur au paiement du timbre <b>fiscal</b>")
    page.get_by_label("Date de la capture").fill("2025-02-03")
    page.get_by_role("button", name="Ajouter les pièces").click()
    page.wait_for_selector("text=Pièce n° 1 ajoutée")

    item = page.locator("li.exhibit").first
    assert "Pièce n° 1" in item.locator("h3").inner_text()
    assert "Erreur au paiement du timbre <b>fiscal</b>" in item.inner_text()  # shown as text, not markup
    assert "03/02/2025" in item.inner_text() and "lecture en cours" in item.inner_text()
    thumb = item.locator("img")
    thumb.wait_for()
    thumb.scroll_into_view_if_needed()  # loading="lazy": a browser fetches it once on screen
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    assert page.evaluate("(img) => img.naturalWidth", thumb.element_handle()) == 320

    # Drag and drop a second capture onto the zone (constat.js fills the file input).
    second = files.screenshot("RDV")
    page.evaluate(
        """([bytes, name]) => {
            const file = new File([new Uint8Array(bytes)], name, {type: "image/png"});
            const data = new DataTransfer();
            data.items.add(file);
            const zone = document.querySelector("[data-dropzone]");
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        [list(second), "rendez-vous.png"],
    )
    assert "rendez-vous.png" in page.locator("[data-filelist]").inner_text()
    page.get_by_role("button", name="Ajouter les pièces").click()
    page.wait_for_selector("text=Pièce n° 2 ajoutée")
    assert page.locator("li.exhibit").count() == 2
    assert page.dialogs == []
    screenshot(page, "exhibit-upload")
