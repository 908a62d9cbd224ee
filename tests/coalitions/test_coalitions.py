"""Coalitions end to end through the contract: CLI, pooled pages and files, the public page.

Real database, real openpyxl and python-docx round-trips; the CLI runs through Flask's runner.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from app.extensions import db
from tests import factories
from tests.conftest import csrf_token, login
from tests.exports.helpers import docx_text, xlsx_cells


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def third_org(db):
    return factories.organisation("assoc-lille", "LIL")


def populate(org, n: int, prefix: str, *, prefecture="69", **fields):
    volunteer = factories.user(org, "volunteer")
    cases = []
    for i in range(n):
        case = factories.case(org, volunteer, last_name=f"{prefix}nom{i}", first_name=f"{prefix}prenom{i}",
                              prefecture=prefecture, **fields)
        factories.event(case, "TENTATIVE", date(2025, 3, 1 + i))
        factories.event(case, "CCC", date(2025, 3, 10 + i), f"Appel de {prefix}nom{i}", reference=f"TICKET-{prefix}{i}")
        cases.append(case)
    return cases


@pytest.fixture
def coalition(app, org, other_org):
    assert cli(app, "coalitions", "create", "reseau-anef", "Réseau ANEF").exit_code == 0
    for slug in (org.slug, other_org.slug):
        result = cli(app, "coalitions", "join", "reseau-anef", "--org", slug)
        assert result.exit_code == 0, result.output
    return "reseau-anef"


def test_pooled_workbook_has_both_associations_cases_and_no_names(app, client, org, other_org, third_org, coalition):
    lyon = populate(org, 4, "lyon")
    paris = populate(other_org, 3, "paris", prefecture="75")
    login(client, factories.user(org, "coordinator"))
    response = client.get(f"/coalitions/{coalition}/cases.xlsx")
    assert response.status_code == 200
    sheets = xlsx_cells(response.data)
    rows = sheets["Cas"][1:]
    assert len(rows) == len(lyon) + len(paris)
    assert sorted(r[1] for r in rows) == ["69"] * 4 + ["75"] * 3
    xml = response.data.decode("latin-1")
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        xml = "".join(archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".xml"))
    for case in lyon + paris:
        assert case.reference not in xml
        assert case.person.last_name not in xml and case.person.first_name not in xml
    assert "TICKET-" not in xml
    # Dates reduced to the month, counts below 5 hidden, both contributions named.
    assert all(isinstance(r[1], str) and re.fullmatch(r"\d{4}-\d{2}", r[1]) for r in sheets["Chronologie"][1:])
    synthese = [str(v) for r in sheets["Synthèse"] for v in r if v is not None]
    assert any("Contribution de Association assoc-lyon : < 5" in v for v in synthese)
    assert any("Contribution de Association assoc-paris : < 5" in v for v in synthese)
    assert "< 5" in synthese


def test_pooled_dossier_and_dashboard_for_members_only(app, client, org, other_org, third_org, coalition):
    populate(org, 5, "lyon")
    populate(other_org, 5, "paris", prefecture="75")
    login(client, factories.user(org, "coordinator"))
    page = client.get(f"/coalitions/{coalition}/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "10 dossiers" in html and "<svg" in html and "lyonnom" not in html
    dossier = client.get(f"/coalitions/{coalition}/dossier.docx")
    assert dossier.status_code == 200
    text = docx_text(dossier.data).replace("\u00a0", " ")
    assert "Contribution de Association assoc-lyon : 5" in text and "données anonymisées" in text
    assert "signalé au CCC et non résolu" in text and "lyonnom" not in text
    # A coordinator of a third association, and a volunteer of a member one.
    stranger = app.test_client()
    login(stranger, factories.user(third_org, "coordinator"))
    for path in ("/", "/cases.xlsx", "/dossier.docx"):
        assert stranger.get(f"/coalitions/{coalition}{path}").status_code == 404
    assert stranger.get("/coalitions/nexiste-pas/").status_code == 404
    volunteer = app.test_client()
    login(volunteer, factories.user(org, "volunteer"))
    assert volunteer.get(f"/coalitions/{coalition}/").status_code == 403


def test_an_association_that_leaves_stops_contributing_at_once(app, client, org, other_org, coalition):
    populate(org, 5, "lyon")
    populate(other_org, 5, "paris", prefecture="75")
    admin = factories.user(other_org, "admin")
    login(client, admin)
    token = csrf_token(client, "/coalitions/")
    refused = client.post(f"/coalitions/{coalition}/leave", data={"csrf_token": token}, follow_redirects=True)
    assert "cochez la case de confirmation" in refused.get_data(as_text=True)
    client.post(f"/coalitions/{coalition}/leave", data={"csrf_token": token, "confirm": "oui"})
    assert client.get(f"/coalitions/{coalition}/").status_code == 404  # no longer a member
    lyon = app.test_client()
    login(lyon, factories.user(org, "coordinator"))
    assert "5 dossiers" in lyon.get(f"/coalitions/{coalition}/").get_data(as_text=True)
    # A coalition of one has no pooled files.
    response = lyon.get(f"/coalitions/{coalition}/cases.xlsx")
    assert response.status_code == 409 and "seule association" in response.get_data(as_text=True)


def test_consent_excluding_statistics_leaves_a_case_out_everywhere(app, client, org, other_org, coalition):
    populate(org, 5, "lyon")
    refused = factories.case(org, None, last_name="Refus", consent_date=date(2025, 1, 2), consent_statistics=False,
                             consent_followup=True)
    factories.event(refused, "TENTATIVE", date(2025, 3, 1))
    populate(other_org, 5, "paris")
    coordinator = factories.user(org, "coordinator")
    login(client, coordinator)
    pooled = xlsx_cells(client.get(f"/coalitions/{coalition}/cases.xlsx").data)
    assert len(pooled["Cas"]) - 1 == 10
    own = xlsx_cells(client.get("/exports/cases.xlsx").data)
    assert len(own["Cas"]) - 1 == 5
    assert any("laissé(s) de côté" in str(v) for r in own["Synthèse"] for v in r)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "(5 dossiers)" in dashboard


def test_bad_coalition_commands_get_french_messages(app, org, other_org, coalition):
    again = cli(app, "coalitions", "join", coalition, "--org", org.slug)
    assert again.exit_code != 0 and "déjà membre" in again.output
    clash = cli(app, "coalitions", "create", org.slug.upper().replace("-", "_"), "Collision")
    assert clash.exit_code != 0 and "identifiant" in clash.output
    duplicate = cli(app, "coalitions", "create", "reseau_anef", "Doublon")
    assert duplicate.exit_code != 0
    unknown = cli(app, "coalitions", "join", "inconnue", "--org", org.slug)
    assert unknown.exit_code != 0 and "introuvable" in unknown.output
    assert cli(app, "coalitions", "create", "solo", "Seule").exit_code == 0
    assert cli(app, "coalitions", "join", "solo", "--org", org.slug).exit_code == 0
    alone = cli(app, "stats", "publish", "solo")
    assert alone.exit_code != 0 and "seule association" in alone.output


def test_public_page_is_404_until_published_then_anonymised_with_a_map(app, org, other_org, coalition):
    populate(org, 7, "lyon")
    populate(other_org, 1, "paris", prefecture="07")
    anonymous = app.test_client()
    assert anonymous.get(f"/stats/{coalition}").status_code == 404
    assert anonymous.get(f"/stats/{org.slug}").status_code == 404
    assert cli(app, "stats", "publish", coalition).exit_code == 0
    response = anonymous.get(f"/stats/{coalition}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<svg" in html and "Ardèche" in html and "moins de 5" in html
    assert "lyonnom" not in html and "parisnom" not in html and "TICKET" not in html
    # No count from 1 to 4 shows as a number in any table cell.
    cells = re.findall(r'<td class="num">([^<]*)</td>', html)
    assert cells and not [c for c in cells if c.strip() in {"1", "2", "3", "4"}]
    # Nor in a chart: a hidden bar says « < 5 », not a number (not even 0).
    chart_texts = re.findall(r'font-size="12" fill="#222">([^<]*)</text>', html)
    assert "&lt; 5" in chart_texts and not {"1", "2", "3", "4"} & set(chart_texts)
    assert "public" in response.headers["Cache-Control"] and response.headers.get("ETag")
    assert "Set-Cookie" not in response.headers
    again = anonymous.get(f"/stats/{coalition}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert cli(app, "stats", "publish", coalition, "--off").exit_code == 0
    assert anonymous.get(f"/stats/{coalition}").status_code == 404


def test_public_page_with_too_few_cases_says_so(app, org):
    populate(org, 2, "lyon")
    assert cli(app, "stats", "publish", org.slug).exit_code == 0
    html = app.test_client().get(f"/stats/{org.slug}").get_data(as_text=True)
    assert "Trop peu de dossiers" in html and "<svg" not in html
    assert cli(app, "stats", "publish", "nimporte-quoi").exit_code != 0
    db.session.rollback()


def test_a_case_recorded_without_a_person_still_counts_beside_a_refusal(app, client, org):
    """NOT (NULL IN …) is NULL in SQL: a case with no person must not fall out of the figures
    because another person's consent excludes statistics."""
    from app.cases.models import Case
    from app.exports import services

    populate(org, 2, "lyon")
    anonymous = factories.case(org, None, last_name="", first_name="")
    assert anonymous.person_id is None
    factories.case(org, None, last_name="Refus", consent_date=date(2025, 1, 2), consent_statistics=False,
                   consent_followup=True)
    allowed, excluded = services.statistics_ids([org.id], None)
    assert anonymous.id in allowed and len(allowed) == 3 and excluded == 1
    login(client, factories.user(org, "coordinator"))
    own = xlsx_cells(client.get("/exports/cases.xlsx").data)
    assert len(own["Cas"]) - 1 == 3
    assert _db_count(Case) == 4


def _db_count(model):
    from sqlalchemy import func, select

    from app.extensions import db

    return db.session.scalar(select(func.count(model.id)))


def test_an_expired_public_page_is_served_at_once_and_rendered_again_behind(app, org, monkeypatch):
    """Past STATS_CACHE_SECONDS the visitor gets the kept copy; a thread renders the new figures
    for the next visitor (a large coalition's figures take seconds)."""
    import time

    from app.coalitions import views

    monkeypatch.setitem(app.config, "STATS_CACHE_SECONDS", 0)
    populate(org, 2, "lyon")
    assert cli(app, "stats", "publish", org.slug).exit_code == 0
    visitor = app.test_client()
    assert "Trop peu de dossiers" in visitor.get(f"/stats/{org.slug}").get_data(as_text=True)
    populate(org, 5, "paris")
    assert "Trop peu de dossiers" in visitor.get(f"/stats/{org.slug}").get_data(as_text=True)  # the kept copy
    deadline = time.monotonic() + 20
    while views._refreshing and time.monotonic() < deadline:  # noqa: SLF001 - waiting for the thread
        time.sleep(0.05)
    html = visitor.get(f"/stats/{org.slug}").get_data(as_text=True)
    assert "Trop peu de dossiers" not in html and "<svg" in html
    # Withdrawn: at once, whatever is kept.
    assert cli(app, "stats", "publish", org.slug, "--off").exit_code == 0
    assert visitor.get(f"/stats/{org.slug}").status_code == 404
