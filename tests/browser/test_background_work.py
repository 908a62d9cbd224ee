"""Issue 15 in Chromium, with the embedded default's own worker thread: a large workbook asked
from the dashboard shows its progress page, which refreshes itself until the file downloads; a
large web import shows its page until it says what it created."""

from __future__ import annotations

import pytest

from app.cases.models import Case
from app.extensions import db
from tests import factories
from tests.browser.conftest import browser_login, screenshot
from tests.conftest import PASSWORD
from tests.exports.helpers import xlsx_cells

pytestmark = pytest.mark.browser


@pytest.fixture
def in_app_workers(app, monkeypatch):
    """START_WORKERS as on a single machine: the app's threads start with its first request."""
    monkeypatch.setitem(app.config, "START_WORKERS", True)
    monkeypatch.setitem(app.config, "JOB_THRESHOLD_CASES", 3)
    yield
    app.extensions["workers_stop"].set()


def test_a_large_workbook_shows_progress_then_downloads(app, live_server, browser, org, in_app_workers):
    volunteer = factories.user(org, "volunteer")
    for i in range(6):
        factories.case(org, volunteer, last_name=f"Nom{i}")
    coordinator = factories.user(org, "coordinator")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR", accept_downloads=True)
    page = context.new_page()
    browser_login(page, live_server, coordinator.email, PASSWORD)
    page.goto(f"{live_server}/dashboard")
    page.get_by_role("link", name="Classeur pseudonymisé (Excel)").click()
    page.wait_for_url(f"{live_server}/jobs/*")
    assert page.get_by_role("heading", name="Classeur des dossiers").is_visible()
    # The page reloads itself every 2 s until the worker thread has finished.
    link = page.get_by_role("link", name="Télécharger")
    link.wait_for(timeout=30_000)
    screenshot(page, "issue15-job-ready-390")
    with page.expect_download() as download:
        link.click()
    content = download.value.path().read_bytes()
    assert content[:2] == b"PK" and download.value.suggested_filename.endswith(".xlsx")
    assert len(xlsx_cells(content)["Cas"]) == 1 + 6
    context.close()


def test_a_large_web_import_runs_behind_and_says_what_it_created(app, live_server, browser, org, tmp_path,
                                                                  in_app_workers):
    from tests.cases.test_importer import row, write_xlsx

    org_id, coordinator = org.id, factories.user(org, "coordinator")
    path = write_xlsx(tmp_path / "grand.xlsx", [row() for _ in range(5)])
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    browser_login(page, live_server, coordinator.email, PASSWORD)
    page.goto(f"{live_server}/cases/import")
    page.get_by_label("Fichier à vérifier").set_input_files(str(path))
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.wait_for_selector("text=l'import se fera en arrière-plan")
    page.get_by_role("button", name="Confirmer l'import de 5 dossiers").click()
    page.wait_for_url(f"{live_server}/jobs/*")
    page.wait_for_selector("text=Import terminé : 5 dossiers et 0 événement importés.", timeout=30_000)
    screenshot(page, "issue15-import-done-1280")
    page.get_by_role("link", name="Voir les dossiers").click()
    page.wait_for_url(f"{live_server}/cases/")
    db.session.remove()
    assert db.session.query(Case).filter_by(org_id=org_id).count() == 5
    context.close()
