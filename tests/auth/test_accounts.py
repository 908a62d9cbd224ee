"""Mon compte (password change ends other sessions) and the admins' account pages."""

import pytest
from sqlalchemy import select

from app.auth import services
from app.auth.models import User
from app.extensions import db
from tests import factories
from tests.conftest import PASSWORD, csrf_token, login

NEW_PASSWORD = "une autre phrase de passe bien longue"


@pytest.fixture
def admin(org):
    return factories.user(org, "admin")


def change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None):
    return client.post("/account/password", data={
        "current_password": current, "new_password": new, "confirm": confirm or new,
        "csrf_token": csrf_token(client, "/account/")})


def test_password_change_ends_other_sessions_keeps_this_one(app, volunteer):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, volunteer)
    login(elsewhere, volunteer)
    old_version = volunteer.session_version
    response = change(here)
    assert response.status_code == 302 and response.location == "/account/"
    # This session carries on (re-logged with the new session version)…
    assert here.get("/cases/").status_code == 200
    with here.session_transaction() as sess:
        assert sess["_user_id"] == f"{volunteer.id}:{old_version + 1}"
    # …the other one is sent to the login page.
    response = elsewhere.get("/cases/")
    assert response.status_code == 302 and response.location.startswith("/login")
    # The new password works, the old one does not.
    fresh = app.test_client()
    token = csrf_token(fresh)
    assert fresh.post("/login", data={"email": volunteer.email, "password": PASSWORD, "csrf_token": token}).status_code == 200
    login(fresh, volunteer, NEW_PASSWORD)


@pytest.mark.parametrize("current,new,confirm,message", [
    ("pas le bon mot de passe", NEW_PASSWORD, None, "Mot de passe actuel incorrect."),
    (PASSWORD, "court", None, "au moins 12 caractères"),
    (PASSWORD, "motdepasse123", None, "trop courant"),
    (PASSWORD, "x" * 300, None, "Mot de passe trop long."),
    (PASSWORD, NEW_PASSWORD, "autre chose encore", "ne correspondent pas"),
    (PASSWORD, PASSWORD, None, "doit être différent"),
])
def test_password_change_refusals(logged_in, volunteer, current, new, confirm, message):
    response = change(logged_in, current, new, confirm)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.refresh(volunteer)
    assert services.verify_password(volunteer, PASSWORD)


def test_profile_ignores_posted_role_org_and_email(logged_in, volunteer, other_org):
    response = logged_in.post("/account/profile", data={
        "full_name": "Nouveau Nom", "role": "admin", "org_id": other_org.id, "email": "pirate@x.test",
        "active": "0", "session_version": "99", "csrf_token": csrf_token(logged_in, "/account/")})
    assert response.status_code == 302
    db.session.refresh(volunteer)
    assert (volunteer.full_name, volunteer.role, volunteer.org_id) == ("Nouveau Nom", "volunteer", volunteer.organisation.id)
    assert volunteer.email.endswith("@assoc-lyon.test") and volunteer.active


def test_account_page_lists_identity(logged_in, volunteer):
    page = logged_in.get("/account/").get_data(as_text=True)
    assert "Mon compte" in page and volunteer.email in page and "Bénévole" in page


def test_admin_creates_account_in_own_org_whatever_is_posted(client, admin, other_org):
    login(client, admin)
    response = client.post("/admin/accounts/new", data={
        "email": "Nouvelle@Assoc-Lyon.test", "full_name": "Nouvelle", "role": "lawyer", "password": NEW_PASSWORD,
        "org_id": other_org.id, "csrf_token": csrf_token(client, "/admin/accounts/")})
    assert response.status_code == 302
    created = db.session.scalar(select(User).where(User.email == "nouvelle@assoc-lyon.test"))
    assert created.org_id == admin.org_id and created.role == "lawyer"
    # An unknown role or a weak password is refused in French.
    response = client.post("/admin/accounts/new", data={
        "email": "x@assoc-lyon.test", "role": "superadmin", "password": NEW_PASSWORD,
        "csrf_token": csrf_token(client, "/admin/accounts/")})
    assert response.status_code == 422 and "Not a valid choice" not in response.get_data(as_text=True)
    response = client.post("/admin/accounts/new", data={
        "email": "y@assoc-lyon.test", "role": "volunteer", "password": "azertyuiop123",
        "csrf_token": csrf_token(client, "/admin/accounts/")})
    assert response.status_code == 422 and "trop courant" in response.get_data(as_text=True)


def test_deactivation_ends_sessions_at_once_and_reactivation_needs_a_new_login(app, admin, volunteer):
    member, boss = app.test_client(), app.test_client()
    login(member, volunteer)
    login(boss, admin)
    assert member.get("/cases/").status_code == 200
    token = csrf_token(boss, "/admin/accounts/")
    assert boss.post(f"/admin/accounts/{volunteer.id}/deactivate", data={"csrf_token": token}).status_code == 302
    assert member.get("/cases/").status_code == 302
    assert boss.post(f"/admin/accounts/{volunteer.id}/reactivate", data={"csrf_token": token}).status_code == 302
    assert member.get("/cases/").status_code == 302  # the old cookie stays dead
    login(member, volunteer)
    assert member.get("/cases/").status_code == 200


def test_admin_cannot_deactivate_self(client, admin):
    login(client, admin)
    client.post(f"/admin/accounts/{admin.id}/deactivate", data={"csrf_token": csrf_token(client, "/admin/accounts/")})
    db.session.refresh(admin)
    assert admin.active
    assert "propre compte" in client.get("/admin/accounts/").get_data(as_text=True)


def test_admin_resets_2fa_and_requires_it(client, admin, volunteer, org):
    volunteer.totp_secret = services.new_totp_secret()
    db.session.commit()
    login(client, admin)
    token = csrf_token(client, "/admin/accounts/")
    client.post(f"/admin/accounts/{volunteer.id}/reset-2fa", data={"csrf_token": token})
    db.session.refresh(volunteer)
    assert volunteer.totp_secret is None
    client.post("/admin/accounts/require-2fa", data={"required": "y", "csrf_token": token})
    db.session.refresh(org)
    assert org.require_2fa
    # The admin is now asked to enrol too, like every member.
    assert client.get("/admin/accounts/").location == "/account/2fa/setup"


def test_account_pages_for_non_admins_and_other_orgs(app, org, other_org, volunteer, admin):
    stranger = factories.user(other_org, "admin")
    client = app.test_client()
    login(client, volunteer)
    assert client.get("/admin/accounts/").status_code == 403
    token = csrf_token(client, "/cases/")
    assert client.post(f"/admin/accounts/{admin.id}/deactivate", data={"csrf_token": token}).status_code == 403
    other = app.test_client()
    login(other, stranger)
    token = csrf_token(other, "/cases/")
    for action in ("deactivate", "reactivate", "reset-2fa"):
        assert other.post(f"/admin/accounts/{volunteer.id}/{action}", data={"csrf_token": token}).status_code == 404
    db.session.refresh(volunteer)
    assert volunteer.active
    assert volunteer.email not in other.get("/admin/accounts/").get_data(as_text=True)


def test_account_creation_does_not_reveal_another_associations_users(client, admin, other_org):
    """Issue 16: a Lyon admin must not learn that an address is a Paris account."""
    paris = factories.user(other_org, "volunteer")
    lyon = factories.user(admin.organisation, "volunteer")
    login(client, admin)

    def create(email):
        token = csrf_token(client, "/admin/accounts/")
        return client.post("/admin/accounts/new", data={"email": email, "role": "volunteer", "csrf_token": token,
                                                        "password": "une phrase assez longue"}).get_data(as_text=True)

    elsewhere = create(paris.email).replace(paris.email, "")  # the address typed is echoed in its field
    assert "ne peut pas être utilisée" in elsewhere
    assert "Un compte" not in elsewhere and other_org.name not in elsewhere and other_org.slug not in elsewhere
    assert "Un compte de votre association existe déjà" in create(lyon.email)  # already in its own list


def test_slugs_folding_to_the_same_name_are_refused(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["orgs", "create", "demo-lyon", "Lyon"]).exit_code == 0
    for slug in ("demo-lyon-", "demo--lyon", "démo-lyon", "DEMO-LYON"):
        result = runner.invoke(args=["orgs", "create", "--", slug, "Autre"])
        assert result.exit_code != 0 and ("se confond" in result.output or "existe déjà" in result.output), slug
    assert runner.invoke(args=["orgs", "create", "demo-lyon-2", "Lyon 2"]).exit_code == 0
