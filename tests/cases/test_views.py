"""Case pages through the test client: forms, French errors, filters, pagination, isolation."""

import re
from datetime import date

from sqlalchemy import event, func, select

from app.cases.models import Case, Event
from app.extensions import db as _db
from tests import factories
from tests.conftest import csrf_token, login


def case_form(**overrides):
    data = {"prefecture": "69", "demarche": "RENOUV", "status": "OUVERT", "primary_blocage": "API-ABS",
            "last_name": "Koné", "first_name": "Aminata", "narrative": "Aucune API délivrée."}
    data.update(overrides)
    return data


def post_new(client, **overrides):
    data = case_form(**overrides)
    data["csrf_token"] = csrf_token(client, "/cases/new")
    return client.post("/cases/new", data=data)


def count_cases():
    return _db.session.scalar(select(func.count(Case.id)))


def test_login_required_redirects_to_login(client, org):
    response = client.get("/cases/")
    assert response.status_code == 302 and "/login" in response.location


def test_wrong_password_and_unknown_email_same_message(client, volunteer):
    token = csrf_token(client)
    wrong = client.post("/login", data={"email": volunteer.email, "password": "mauvais-mot-de-passe", "csrf_token": token})
    unknown = client.post("/login", data={"email": "personne@nulle.part", "password": "x" * 14, "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 200
    message = "Adresse électronique ou mot de passe incorrect."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_missing_csrf_token_refused_in_french(logged_in):
    response = logged_in.post("/cases/new", data=case_form())
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)
    assert count_cases() == 0


def test_create_case_through_form(logged_in):
    response = post_new(logged_in, other_blocages=["ACCOMP", "API-ABS"], consequences=["CAF"])
    assert response.status_code == 302
    case = _db.session.scalar(select(Case))
    assert case.blocages == ["API-ABS", "ACCOMP"] and case.consequences == ["CAF"]
    page = logged_in.get(response.location).get_data(as_text=True)
    assert case.reference in page and "Aminata KONÉ" in page


def test_case_page_shows_computed_sentences(logged_in):
    post_new(logged_in, titre_expiry="2025-01-15")
    case = _db.session.scalar(select(Case))
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "jours sans droits" in page and "Aucune demande de renouvellement enregistrée pendant la période de dépôt" in page


def test_bad_input_gets_french_errors_and_saves_nothing(logged_in):
    response = post_new(logged_in, numero_etranger="123", birth_date="2999-01-01", first_attempt="31/02/2025",
                        last_name="x" * 10_000, prefecture="")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "10 chiffres" in body and "200 caractères au maximum" in body and "Choisissez la préfecture" in body
    assert "Date invalide" in body
    assert count_cases() == 0


def test_future_birth_date_refused_by_service(logged_in):
    response = post_new(logged_in, birth_date="2999-01-01")
    assert response.status_code == 422
    assert "futur" in response.get_data(as_text=True)
    assert count_cases() == 0


def test_html_emoji_rtl_kept_as_text(logged_in):
    payload = '<img src=x onerror=alert(1)> 🙂 \u202eعربى'
    post_new(logged_in, narrative=payload)
    case = _db.session.scalar(select(Case))
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt; 🙂" in page


def test_add_event_and_error_keeps_typed_text(logged_in, volunteer):
    case = factories.case(volunteer.organisation, volunteer)
    token = csrf_token(logged_in, f"/cases/{case.id}")
    ok = logged_in.post(f"/cases/{case.id}/events", data={
        "date": "2025-02-03", "type": "CCC", "description": "Ticket ouvert", "reference": "2025-CCC-1", "csrf_token": token})
    assert ok.status_code == 302
    bad = logged_in.post(f"/cases/{case.id}/events", data={
        "date": "2999-02-03", "type": "TENTATIVE", "description": "Texte à ne pas perdre", "csrf_token": token})
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert "Texte à ne pas perdre" in body and "futur" in body
    assert _db.session.scalar(select(func.count(Event.id))) == 1


def test_edit_case_and_concurrent_edit_conflict(client, org):
    alice, bob = factories.user(org, "volunteer"), factories.user(org, "lawyer")
    case = factories.case(org, alice)
    bob_client = client.application.test_client()
    login(client, alice)
    login(bob_client, bob)
    alice_page = client.get(f"/cases/{case.id}/edit").get_data(as_text=True)
    bob_page = bob_client.get(f"/cases/{case.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', alice_page).group(1)
    token_a = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', alice_page).group(1)
    token_b = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', bob_page).group(1)
    first = client.post(f"/cases/{case.id}/edit", data=case_form(narrative="Version d'Alice", version=version, csrf_token=token_a))
    assert first.status_code == 302
    second = bob_client.post(f"/cases/{case.id}/edit", data=case_form(narrative="Version de Bob", version=version, csrf_token=token_b))
    assert second.status_code == 409
    body = second.get_data(as_text=True)
    assert "modifié par quelqu&#39;un d&#39;autre" in body and "Version de Bob" in body
    _db.session.expire_all()
    assert _db.session.get(Case, case.id).narrative == "Version d'Alice"


def test_list_filters_and_pagination(logged_in, volunteer, app):
    org = volunteer.organisation
    app.config["CASES_PER_PAGE"] = 2
    for prefecture in ("69", "69", "38"):
        factories.case(org, volunteer, prefecture=prefecture)
    page1 = logged_in.get("/cases/").get_data(as_text=True)
    assert "Page 1 sur 2" in page1
    page2 = logged_in.get("/cases/?page=2").get_data(as_text=True)
    assert page2.count('href="/cases/') - page2.count('href="/cases/new') >= 1
    isere = logged_in.get("/cases/?prefecture=38").get_data(as_text=True)
    assert "(1)" in isere
    assert logged_in.get("/cases/?page=abc").status_code == 200


def test_other_association_case_is_404_everywhere(client, org, other_org):
    theirs = factories.case(other_org, None)
    login(client, factories.user(org, "admin"))
    for path in (f"/cases/{theirs.id}", f"/cases/{theirs.id}/edit"):
        assert client.get(path).status_code == 404
    assert client.get("/cases/999999").status_code == 404
    token = csrf_token(client, "/cases/new")
    assert client.post(f"/cases/{theirs.id}/events", data={"date": "2025-01-01", "type": "CCC", "csrf_token": token}).status_code == 404
    assert theirs.reference not in client.get("/cases/").get_data(as_text=True)


def test_coordinator_cannot_edit_nor_see_identity(client, org):
    case = factories.case(org, None, last_name="Identitécachée")
    login(client, factories.user(org, "coordinator"))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Identité masquée" in page and "Identitécachée".upper() not in page
    assert "IDENTITÉCACHÉE" not in client.get("/cases/").get_data(as_text=True)
    assert client.get("/cases/new").status_code == 403
    assert client.get(f"/cases/{case.id}/edit").status_code == 403


def test_security_headers_on_pages_and_errors(client, logged_in):
    for response in (client.get("/login"), logged_in.get("/cases/"), logged_in.get("/nope")):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_list_and_case_pages_have_no_n_plus_one(app, logged_in, volunteer):
    org = volunteer.organisation
    for i in range(12):
        case = factories.case(org, volunteer, last_name=f"Nom{i}", blocages=["RDV", "ACCOMP"])
    for i in range(15):
        factories.event(case, "TENTATIVE", date(2025, 1, 1 + i))
    logged_in.get("/cases/")  # warm-up: urgency refresh, taxonomy

    def count(path):
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            assert logged_in.get(path).status_code == 200
        finally:
            event.remove(_db.engine, "before_cursor_execute", listener)
        return len(statements)

    few, many = count("/cases/"), None
    for i in range(12):
        factories.case(org, volunteer, last_name=f"Autre{i}")
    logged_in.get("/cases/")
    many = count("/cases/")
    assert many == few, "the list page issues a query per case"
    short_case = factories.case(org, volunteer)
    factories.event(short_case, "CCC", date(2025, 1, 1))
    assert count(f"/cases/{case.id}") == count(f"/cases/{short_case.id}"), "the case page issues a query per event"


def test_coordinator_case_page_masks_the_persons_values_in_free_text(client, org):
    case = factories.case(org, None, last_name="Benyoucef", first_name="Samira", numero_etranger="7512345678",
                          narrative="Mme Samira Benyoucef (n° 7512345678) n'a aucune API.")
    factories.event(case, "CCC", description="Appel de Mme Benyoucef au CCC")
    login(client, factories.user(org, "coordinator"))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Benyoucef" not in page and "7512345678" not in page
    assert "n&#39;a aucune API" in page and "au CCC" in page
    login_volunteer = client.application.test_client()
    login(login_volunteer, factories.user(org, "volunteer"))
    assert "Mme Samira Benyoucef (n° 7512345678)" in login_volunteer.get(f"/cases/{case.id}").get_data(as_text=True)
