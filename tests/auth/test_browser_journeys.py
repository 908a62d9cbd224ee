"""In Chromium: an admin requires 2FA, enrols with the QR page, keeps the recovery codes, manages
accounts and reads the audit journal; a member is then forced through enrolment before any case."""

import re

import pyotp
import pytest

from app.extensions import db
from tests import factories
from tests.browser.conftest import browser, live_server, page, screenshot  # noqa: F401 (fixtures)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def log_in(tab, base, email):
    tab.goto(f"{base}/login")
    tab.get_by_label("Adresse électronique").fill(email)
    tab.get_by_label("Mot de passe").fill(PASSWORD)
    tab.get_by_role("button", name="Se connecter").click()
    tab.wait_for_load_state("load")


def enrol(tab) -> str:
    """Enrol like a user with an authenticator app; return the code that was used."""
    assert tab.locator(".qr img").evaluate("img => img.complete && img.naturalWidth > 100")
    secret = tab.locator("code.secret").inner_text().strip()
    code = pyotp.TOTP(secret).now()
    tab.get_by_label("Code de vérification").fill(code)
    tab.get_by_role("button", name="Activer").click()
    tab.wait_for_selector("text=Vos codes de secours")
    assert len(re.findall(r"[a-z0-9]{5}-[a-z0-9]{5}", tab.locator(".recovery-codes").inner_text())) == 10
    return code


def test_admin_requires_2fa_and_member_is_forced_to_enrol(live_server, page, org, volunteer):  # noqa: F811
    admin = factories.user(org, "admin")
    case = factories.case(org, volunteer)
    factories.event(case, actor=volunteer)
    log_in(page, live_server, admin.email)
    page.wait_for_url(f"{live_server}/cases/")

    page.get_by_role("link", name="Comptes").click()
    page.get_by_label("Adresse électronique").fill("nouvelle.benevole@assoc-lyon.test")
    page.get_by_label("Nom affiché").fill("Nouvelle Bénévole")
    page.get_by_label("Rôle").select_option("volunteer")
    page.get_by_label("Mot de passe initial").fill("une phrase initiale assez longue")
    page.get_by_role("button", name="Créer le compte").click()
    page.wait_for_selector("text=Compte nouvelle.benevole@assoc-lyon.test créé")
    page.get_by_label("Exiger la double authentification pour tous les membres").check()
    page.get_by_role("button", name="Enregistrer").click()
    # The admin is the first to be asked to enrol.
    page.wait_for_url(f"{live_server}/account/2fa/setup")
    screenshot(page, "2fa-enrolment")
    enrol(page)
    screenshot(page, "2fa-recovery-codes")
    page.get_by_role("link", name="J'ai noté mes codes, continuer").click()
    page.goto(f"{live_server}/admin/accounts/")
    assert "activée (10 codes de secours)" in page.content()
    screenshot(page, "accounts")

    page.get_by_role("link", name="Journal").click()
    page.get_by_label("Action").select_option("auth.")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_load_state("load")
    rows = page.locator("table.journal tbody tr")
    assert rows.count() >= 2 and all(t.startswith("auth.") for t in page.locator("table.journal td.code:nth-child(4)").all_inner_texts())
    page.get_by_label("Action").select_option("")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_load_state("load")
    screenshot(page, "audit-journal")
    page.get_by_role("button", name="Se déconnecter").click()

    # The member: password, then forced enrolment, then the case; and the code only once.
    log_in(page, live_server, volunteer.email)
    page.wait_for_url(f"{live_server}/account/2fa/setup")
    page.goto(f"{live_server}/cases/{case.id}")
    assert page.url == f"{live_server}/account/2fa/setup"
    used = enrol(page)
    page.goto(f"{live_server}/cases/{case.id}")
    assert page.locator("h1").inner_text().startswith("Dossier LYO-")
    page.get_by_role("button", name="Se déconnecter").click()
    log_in(page, live_server, volunteer.email)
    page.wait_for_url(f"{live_server}/login/2fa")
    page.get_by_label("Code de vérification").fill(used)  # the enrolment code, once more
    page.get_by_role("button", name="Vérifier").click()
    page.wait_for_selector("text=Code incorrect ou déjà utilisé.")
    screenshot(page, "2fa-second-step")
    assert page.dialogs == []
    db.session.expire_all()
