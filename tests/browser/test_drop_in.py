"""Issue 14 in Chromium: what a volunteer meets at a drop-in session, on a 390 px phone and a
1280 px desktop: one submit shows every error, nothing typed is lost when the session expires,
the case list fits a phone, and axe-core finds no serious or critical violation on any page."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from flask import url_for
from PIL import Image

from app.core import security
from app.core.clock import utcnow
from app.evidence import services as evidence
from app.extensions import db
from tests import factories
from tests.browser.conftest import browser_login, screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def axe_script() -> str:
    """axe-core as shipped inside the pinned axe-playwright-python wheel: no network needed."""
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def serious_violations(page) -> list[str]:
    page.evaluate(axe_script())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): " + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                                                       for n in v["nodes"][:3])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def new_tab(browser, viewport):
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    return context, context.new_page()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (30, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_five_errors_at_once_with_focus_on_the_summary(live_server, browser, volunteer):
    context, page = new_tab(browser, PHONE)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.goto(f"{live_server}/cases/new")
    page.get_by_label("Blocage principal").select_option("API-ABS")
    future = (utcnow().date() + timedelta(days=30)).isoformat()
    page.get_by_label("Date de naissance").fill(future)
    page.get_by_label("Première tentative").fill(future)
    page.get_by_label("Courriel").fill("pas-une-adresse")
    page.get_by_label("Numéro étranger (AGDREF)").fill("12 34 56 78 90")
    page.get_by_label("Téléphone").fill("0612345678")
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_selector("[data-error-summary]")
    summary = page.locator("[data-error-summary]")
    assert "5 erreurs à corriger" in summary.inner_text()
    links = summary.locator("a")
    assert links.count() == 5
    texts = " | ".join(links.all_inner_texts())
    for label in ("Préfecture", "Démarche", "Date de naissance", "Première tentative", "Courriel"):
        assert label in texts, texts
    page.wait_for_function("document.activeElement && document.activeElement.hasAttribute('data-error-summary')",
                           timeout=10_000)
    # The numéro étranger with spaces was accepted (no error on it); the phone is shown as typed.
    assert page.get_by_label("Numéro étranger (AGDREF)").input_value() == "1234567890"
    assert page.get_by_label("Téléphone").input_value() == "0612345678"
    screenshot(page, "issue14-error-summary-390")
    # A summary link puts the focus on its field.
    links.filter(has_text="Courriel").click()
    assert page.evaluate("document.activeElement.id") == "email"
    assert no_horizontal_scroll(page)
    context.close()


def test_typed_case_is_restored_after_the_session_expired(live_server, browser, volunteer, monkeypatch):
    context, page = new_tab(browser, DESKTOP)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.goto(f"{live_server}/cases/new")
    page.get_by_label("Préfecture (département)").select_option("69")
    page.get_by_label("Démarche", exact=True).select_option("RENOUV")
    page.get_by_label("Blocage principal").select_option("API-ABS")
    page.get_by_label("Nom", exact=True).fill("Koné")
    page.get_by_label("Récit").fill("Entretien d'une heure : trois tentatives, aucune réponse du CCC.")
    page.locator("input[name=consequences][value=CAF]").check()
    # The interview ran past the idle limit: the server sees the session two hours older.
    real = security.utcnow
    monkeypatch.setattr(security, "utcnow", lambda: real() + timedelta(hours=2))
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_url(f"{live_server}/login?next=%2Fcases%2Fnew")
    monkeypatch.setattr(security, "utcnow", real)
    page.get_by_label("Adresse électronique").fill(volunteer.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server}/cases/new")
    page.wait_for_selector(".draft-note")
    assert page.get_by_label("Nom", exact=True).input_value() == "Koné"
    assert page.get_by_label("Récit").input_value().startswith("Entretien d'une heure")
    assert page.get_by_label("Préfecture (département)").input_value() == "69"
    assert page.locator("input[name=consequences][value=CAF]").is_checked()
    screenshot(page, "issue14-draft-restored")
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_selector("text=Dossier LYO-")
    # Saved: the draft is gone.
    page.goto(f"{live_server}/cases/new")
    assert page.get_by_label("Nom", exact=True).input_value() == ""
    assert page.locator(".draft-note").count() == 0
    # Typed, then logged out: the next person on this computer finds nothing.
    page.get_by_label("Nom", exact=True).fill("Sissoko")
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{live_server}/login")
    assert page.evaluate("Object.keys(sessionStorage).filter((k) => k.startsWith('constat-draft')).length") == 0
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.goto(f"{live_server}/cases/new")
    assert page.get_by_label("Nom", exact=True).input_value() == ""
    context.close()


def test_idle_warning_offers_to_stay_connected(app, live_server, browser, volunteer):
    app.config["SESSION_IDLE_MINUTES"] = 2  # the warning shows at once (two minutes before)
    context, page = new_tab(browser, PHONE)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.wait_for_selector(".idle-warning")
    assert "votre session se fermera" in page.locator(".idle-warning").inner_text()
    screenshot(page, "issue14-idle-warning-390")
    app.config["SESSION_IDLE_MINUTES"] = 60
    page.get_by_role("button", name="Rester connecté").click()
    page.wait_for_selector(".idle-warning", state="detached")
    context.close()


def test_phone_case_list_and_case_page(live_server, browser, org, volunteer):
    for i in range(6):
        case = factories.case(org, volunteer, last_name=f"Nom-de-famille-très-long-{i}", first_name="Marie-Antoinette",
                              blocages=["ACCOMP"] if i % 2 else ["API-ABS"], prefecture="974" if i % 2 else "69")
    event = factories.event(case, actor=volunteer, description="Ticket CCC sans réponse.")
    evidence.add_exhibit(case, png_bytes(), "capture.png", volunteer, event_id=event.id, description="Erreur ANEF")
    db.session.commit()
    context, page = new_tab(browser, PHONE)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    assert page.locator(".case-card").count() == 6
    assert page.locator("table").is_hidden()
    assert no_horizontal_scroll(page)
    card = page.locator(".case-card").first
    text = card.inner_text()
    assert "Marie-Antoinette" in text and ("69 – Rhône" in text or "974 – La Réunion" in text)
    assert "Statut" in text and "Prochaine échéance" in text
    box = card.bounding_box()
    assert box["height"] >= 100 and box["width"] >= 340
    screenshot(page, "issue14-case-list-390")
    # The whole card is the tap target: a tap near its bottom-right corner opens the case.
    page.mouse.click(box["x"] + box["width"] - 12, box["y"] + box["height"] - 12)
    page.wait_for_url(f"{live_server}/cases/*")
    page.goto(f"{live_server}/cases/{case.id}")
    quick = page.get_by_role("navigation", name="Actions rapides")
    assert quick.is_visible() and quick.bounding_box()["y"] < 400
    assert no_horizontal_scroll(page)
    assert "n° 1" in page.locator("ol.timeline .event-files").inner_text()
    screenshot(page, "issue14-case-page-390")
    # Add an event from the quick action: the form opens, and the success message shows where the page lands.
    quick.get_by_role("link", name="+ Événement").click()
    page.get_by_label("Date", exact=True).fill("2025-03-02")
    page.get_by_label("Type d'événement").select_option("CCC")
    page.get_by_role("button", name="Ajouter à la chronologie").click()
    page.wait_for_selector("text=Événement ajouté à la chronologie.")
    flash = page.locator(".flash.success")
    assert flash.is_visible()
    top = flash.evaluate("el => el.getBoundingClientRect().top")
    assert 0 <= top < PHONE["height"], top
    screenshot(page, "issue14-event-added-390")
    # An empty event date says it is missing, not malformed; the summary sits at the top.
    page.get_by_role("button", name="Ajouter à la chronologie").click()
    page.wait_for_selector("[data-error-summary]")
    assert "Indiquez la date de l'événement." in page.locator("[data-error-summary]").inner_text()
    # The summary takes focus once the page's script has run: wait for it rather than race it.
    page.wait_for_function("document.activeElement && document.activeElement.hasAttribute('data-error-summary')",
                           timeout=10_000)
    context.close()


def test_search_filters_fold_on_a_phone(live_server, browser, org, volunteer):
    factories.case(org, volunteer)
    context, page = new_tab(browser, PHONE)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.goto(f"{live_server}/search?q=Diallo")
    assert page.get_by_label("Préfecture").is_hidden()
    page.get_by_text("Filtres et tri").click()
    assert page.get_by_label("Préfecture").is_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "issue14-search-390")
    context.close()


def pages_for(app, case, exhibit) -> list[str]:
    with app.test_request_context():
        return [url_for("cases.list_cases"), url_for("cases.new_case"), url_for("cases.show_case", case_id=case.id),
                url_for("cases.edit_case", case_id=case.id), url_for("search.search", q="Diallo"),
                url_for("deadlines.index"), url_for("exports.dashboard"), url_for("audit.journal"),
                url_for("auth.members"), url_for("auth.account"), url_for("privacy.settings"),
                url_for("privacy.notice"), url_for("evidence.show", exhibit_id=exhibit.id),
                url_for("cases.import_cases")]


def test_axe_no_serious_violation_on_any_page_for_any_role(app, live_server, browser, org):
    users = {role: factories.user(org, role) for role in ("volunteer", "lawyer", "coordinator", "admin")}
    case = factories.case(org, users["volunteer"], narrative="Aucune API délivrée.", lawyer_id=users["lawyer"].id)
    event = factories.event(case, actor=users["volunteer"], description="Ticket CCC.")
    factories.event(case, type_="REFUS", actor=users["volunteer"])
    exhibit = evidence.add_exhibit(case, png_bytes(), "capture.png", users["volunteer"], event_id=event.id).exhibit
    db.session.commit()
    urls = pages_for(app, case, exhibit)
    failures, checked = [], 0
    for viewport in (DESKTOP, PHONE):
        context, page = new_tab(browser, viewport)
        page.goto(f"{live_server}/login")
        failures += [f"anonymous /login @{viewport['width']}: {v}" for v in serious_violations(page)]
        for role, user in users.items():
            browser_login(page, live_server, user.email, PASSWORD)
            for url in urls:
                response = page.goto(f"{live_server}{url}")
                if response.status in (403, 404):
                    continue
                checked += 1
                failures += [f"{role} {url} @{viewport['width']}: {v}" for v in serious_violations(page)]
                if viewport is PHONE and not no_horizontal_scroll(page):
                    failures.append(f"{role} {url} @390: the page scrolls sideways")
            if role == "volunteer":  # a refused form, with its error summary
                page.goto(f"{live_server}/cases/new")
                page.get_by_role("button", name="Enregistrer le dossier").click()
                page.wait_for_selector("[data-error-summary]")
                failures += [f"volunteer refused form @{viewport['width']}: {v}" for v in serious_violations(page)]
            if viewport is PHONE:
                screenshot(page, f"issue14-axe-last-page-{role}-390")
            page.get_by_role("button", name="Se déconnecter").click()
            page.wait_for_url(f"{live_server}/login")
        context.close()
    assert checked >= 60
    assert not failures, "\n".join(failures)


def test_dashboard_chart_text_is_readable_on_a_phone(live_server, browser, org, volunteer):
    for i in range(30):  # two and a half years of new cases: a month axis to thin
        case = factories.case(org, volunteer, blocages=["ACCOMP", "API-ABS"] if i % 2 else ["DEP-TITRE"],
                              prefecture=("69", "974", "2A", "13")[i % 4])
        case.opened_on = utcnow().date() - timedelta(days=31 * i)
    db.session.commit()
    coordinator = factories.user(org, "coordinator")
    for viewport, name in ((DESKTOP, "1280"), (PHONE, "390")):
        context, page = new_tab(browser, viewport)
        browser_login(page, live_server, coordinator.email, PASSWORD)
        page.goto(f"{live_server}/dashboard")
        texts = page.evaluate("""() => Array.from(document.querySelectorAll('.dash-chart svg text'))
            .filter((t) => getComputedStyle(t).display !== 'none')
            .map((t) => ({size: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
                          left: t.getBoundingClientRect().left - t.closest('figure').getBoundingClientRect().left,
                          text: t.textContent}))""")
        assert texts, "no chart text"
        if viewport is PHONE:
            small = [t for t in texts if t["size"] < 12 - 0.01]
            assert not small, small[:5]
        # Month labels never overlap: each starts after the previous one ends.
        months = page.evaluate("""() => Array.from(document.querySelectorAll('.dash-chart svg text[text-anchor="middle"]'))
            .filter((t) => getComputedStyle(t).display !== 'none' && t.getAttribute('fill') === '#222')
            .map((t) => [t.getBoundingClientRect().left, t.getBoundingClientRect().right])""")
        assert len(months) >= 4, months
        assert all(a[1] <= b[0] for a, b in zip(months, months[1:], strict=False)), months
        clipped = [t["text"] for t in texts if t["left"] < 0]
        assert not clipped, clipped  # a label starting left of its figure is cut
        assert no_horizontal_scroll(page)
        screenshot(page, f"issue14-dashboard-{name}")
        context.close()


def test_case_page_prints_the_facts_without_the_forms(live_server, browser, org, volunteer):
    case = factories.case(org, volunteer, narrative="Trois tentatives sans réponse.")
    factories.event(case, actor=volunteer, description="Ticket CCC.")
    context, page = new_tab(browser, PHONE)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.goto(f"{live_server}/cases/{case.id}")
    assert not page.locator("#recit").is_visible()  # folded on a phone
    page.emulate_media(media="print")
    assert page.locator("#recit").is_visible()  # printed all the same
    assert page.locator("ol.timeline").is_visible()
    for hidden in ("form[action$='/events']", ".quick-actions", ".upload-form", ".topbar"):
        assert page.locator(hidden).first.is_hidden(), hidden
    screenshot(page, "issue14-case-print")
    context.close()


def test_desktop_keeps_the_table_and_open_sections(live_server, browser, org, volunteer):
    case = factories.case(org, volunteer, narrative="Récit.")
    factories.event(case, actor=volunteer)
    context, page = new_tab(browser, DESKTOP)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    assert page.locator("table").is_visible() and page.locator(".case-cards").is_hidden()
    assert "69 – Rhône" in page.locator("table").inner_text()
    assert page.get_by_label("Statut").is_visible()  # filters open on a wide screen
    # The focus ring stands out from the page (WCAG 1.4.11: 3:1 at least).
    page.locator("main a").first.focus()
    ratio = page.evaluate("""() => {
        const lum = (css) => {
            const [r, g, b] = css.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
                v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const ring = lum(getComputedStyle(document.activeElement).outlineColor);
        const page = lum(getComputedStyle(document.body).backgroundColor);
        return (Math.max(ring, page) + 0.05) / (Math.min(ring, page) + 0.05);
    }""")
    assert ratio >= 3, ratio
    screenshot(page, "issue14-case-list-1280")
    page.goto(f"{live_server}/cases/{case.id}")
    assert page.locator("#recit").is_visible()
    assert page.get_by_role("navigation", name="Actions rapides").is_visible()
    screenshot(page, "issue14-case-page-1280")
    page.goto(f"{live_server}/cases/new")
    page.get_by_role("button", name="Enregistrer le dossier").click()
    page.wait_for_selector("[data-error-summary]")
    screenshot(page, "issue14-error-summary-1280")
    context.close()


def test_web_import_refuses_a_bad_file_then_imports_a_good_one(live_server, browser, org, tmp_path):
    from tests.cases.test_importer import HYPERLINK, row, write_xlsx, write_xlsx_text_cells

    coordinator = factories.user(org, "coordinator")
    bad = write_xlsx(tmp_path / "mauvais.xlsx", [row(**{"Préfecture": ""}), row(**{"Statut": "inconnu"})])
    good = write_xlsx_text_cells(tmp_path / "bon.xlsx", [row(**{"Récit": HYPERLINK}), row()])
    context, page = new_tab(browser, PHONE)
    browser_login(page, live_server, coordinator.email, PASSWORD)
    page.get_by_role("link", name="Importer un tableur").click()
    page.get_by_label("Fichier à vérifier").set_input_files(str(bad))
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.wait_for_selector("[data-error-summary]")
    assert "2 problèmes" in page.locator("[data-error-summary]").inner_text()
    rows = page.locator(".import-problems-table tbody tr").all_inner_texts()
    assert any("Préfecture" in r and "2" in r for r in rows) and any("Statut" in r and "3" in r for r in rows)
    assert no_horizontal_scroll(page)
    screenshot(page, "issue14-import-refused-390")
    page.get_by_label("Fichier à vérifier").set_input_files(str(good))
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.wait_for_selector("text=Aperçu : rien n'est encore enregistré")
    screenshot(page, "issue14-import-preview-390")
    page.get_by_role("button", name="Confirmer l'import de 2 dossiers").click()
    page.wait_for_selector("text=2 dossier(s) et 0 événement(s) importés")
    assert page.locator(".case-card").count() == 2
    context.close()


def test_typed_event_is_restored_after_the_session_expired(live_server, browser, org, volunteer, monkeypatch):
    case = factories.case(org, volunteer)
    context, page = new_tab(browser, PHONE)
    browser_login(page, live_server, volunteer.email, PASSWORD)
    page.goto(f"{live_server}/cases/{case.id}#ajout-evenement")
    page.get_by_label("Date", exact=True).fill("2025-04-07")
    page.get_by_label("Type d'événement").select_option("CCC")
    page.get_by_label("Ce qui s'est passé").fill("Appel au CCC, 40 minutes d'attente, ticket 884213.")
    real = security.utcnow
    monkeypatch.setattr(security, "utcnow", lambda: real() + timedelta(hours=2))
    page.get_by_role("button", name="Ajouter à la chronologie").click()
    page.wait_for_url(f"{live_server}/login?next=*")
    monkeypatch.setattr(security, "utcnow", real)
    page.get_by_label("Adresse électronique").fill(volunteer.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server}/cases/{case.id}#ajout-evenement")
    page.wait_for_selector(".draft-note")
    assert page.get_by_label("Ce qui s'est passé").input_value().startswith("Appel au CCC")
    assert page.get_by_label("Date", exact=True).input_value() == "2025-04-07"
    page.get_by_role("button", name="Ajouter à la chronologie").click()
    page.wait_for_selector("text=Événement ajouté à la chronologie.")
    assert "ticket 884213" in page.locator("ol.timeline").inner_text()
    context.close()
