"""Hostile input in a real Chromium: XSS payloads typed into every text field of the case form,
the event form and the exhibit upload stay inert on every page that shows them.

The browser context bypasses the CSP on purpose: the CSP is a second wall, this test checks the
first one (escaping). It fails on any dialog and on any injected element or event handler.
"""

import io

import pytest
from PIL import Image

from tests.browser.conftest import browser_login, screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

MARK = "zorglub"  # a word to find the case with the search page
# Short enough for every field's length limit; each names its field in the alert.
PAYLOADS = [
    "<script>alert('{f}')</script>",
    "\"><img src=x data-xss onerror=alert('{f}')>",
    "'><svg data-xss onload=alert('{f}')>",
    "</textarea><script>alert('{f}')</script>",
    "<a data-xss href=javascript:alert('{f}')>x</a>",
    "<iframe data-xss srcdoc=\"<script>parent.alert('{f}')</script>\">",
]
CASE_TEXT_FIELDS = {  # field name -> maximum length
    "last_name": 200, "first_name": 200, "nationality": 100, "phone": 40, "address": 1000, "language": 60,
    "consent_collected_by": 200, "titre_demande": 200, "titre_actuel": 200, "anef_number": 64,
    "narrative": 50_000,
}
# Probes in the page: elements or handlers that only an injection could have created.
INJECTED = """() => {
  const found = [];
  document.querySelectorAll('[data-xss], iframe, object, embed').forEach((e) => found.push(e.outerHTML.slice(0, 80)));
  document.querySelectorAll('script:not([src])').forEach((e) => found.push('inline script: ' + e.textContent.slice(0, 60)));
  document.querySelectorAll('*').forEach((e) => {
    for (const a of e.attributes) {
      if (a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value)) found.push(e.tagName + ' ' + a.name);
    }
  });
  return found;
}"""


def payload(index: int, field: str, limit: int) -> str:
    for offset in range(len(PAYLOADS)):
        value = PAYLOADS[(index + offset) % len(PAYLOADS)].format(f=field)
        if len(value) <= limit:
            return value
    raise AssertionError(f"no payload fits {field}")


def png_file(tmp_path):
    path = tmp_path / "capture.png"
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (20, 90, 200)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def hostile_page(browser):
    """Like the `page` fixture, but with the CSP switched off so escaping alone is tested."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def assert_inert(page, where: str) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # let onload/onerror handlers run if anything was injected
    assert page.dialogs == [], f"{where}: dialogs {page.dialogs}"
    assert page.evaluate(INJECTED) == [], where


def test_payloads_are_inert_everywhere(live_server, hostile_page, volunteer, tmp_path):
    page = hostile_page
    browser_login(page, live_server, volunteer.email, PASSWORD)

    # The case form, with a refused numéro étranger first: the re-rendered form must be inert too.
    page.goto(f"{live_server}/cases/new")
    page.get_by_label("Préfecture (département)").select_option("69")
    page.get_by_label("Démarche", exact=True).select_option("RENOUV")
    page.get_by_label("Blocage principal").select_option("API-ABS")
    values = {}
    for i, (name, limit) in enumerate(CASE_TEXT_FIELDS.items()):
        values[name] = payload(i, name, limit - len(MARK) - 1) + " " + MARK
        page.locator(f"[name={name}]").fill(values[name])
    page.locator("[name=email]").fill("x\"><svg/data-xss/onload=alert('email')>@exemple.fr")
    page.locator("[name=numero_etranger]").fill("<script>alert('numero_etranger')</script>")
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_selector(".has-error")
    assert_inert(page, "case form re-rendered with errors")

    page.locator("[name=numero_etranger]").fill("")
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_selector("text=Dossier LYO-")
    case_url = page.url
    assert_inert(page, "case page")
    # The text is shown as typed, not interpreted.
    assert page.locator("#recit").inner_text().startswith(values["narrative"].split(" " + MARK)[0][:20])

    # The event form.
    page.get_by_label("Date", exact=True).fill("2025-02-10")
    page.get_by_label("Type d'événement").select_option("CCC")
    page.get_by_label("Ce qui s'est passé").fill(PAYLOADS[1].format(f="event_description") + " " + MARK)
    page.locator("form:has([name=description]) [name=reference]").fill(PAYLOADS[2].format(f="event_reference"))
    page.get_by_role("button", name="Ajouter à la chronologie").click()
    page.wait_for_selector("ol.timeline li.event")
    assert_inert(page, "case page with event")

    # An exhibit with a hostile description (and a hostile file name).
    upload = page.locator("form.upload-form")
    hostile_name = tmp_path / "x'><img data-xss src=x onerror=alert('filename')>.png"
    hostile_name.write_bytes(png_file(tmp_path).read_bytes())
    upload.locator("#exhibit-files").set_input_files(str(hostile_name))
    upload.locator("#exhibit-description").fill(PAYLOADS[0].format(f="exhibit_description") + " " + MARK)
    upload.get_by_role("button", name="Ajouter les pièces").click()
    page.wait_for_load_state("load")
    assert_inert(page, "case page with exhibit")
    fiche = page.locator("a[href*='/fiche']").first
    if fiche.count():
        fiche.click()
        assert_inert(page, "exhibit page")

    for path, where in ((case_url, "case page again"), (f"{case_url}/edit", "edit form"),
                        (f"{live_server}/cases/", "case list"),
                        (f"{live_server}/search?q={MARK}", "search results with excerpts"),
                        (f"{live_server}/search?q=<script>alert('q')</script>", "search echoing the query")):
        page.goto(path)
        assert_inert(page, where)
    page.goto(f"{live_server}/search?q={MARK}")
    assert MARK in page.content()
    screenshot(page, "xss-search")
