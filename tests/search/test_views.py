"""The /search page and the `flask search` commands."""

from __future__ import annotations

import os

import json

import pytest

from tests import factories
from tests.conftest import login

# The embedded whoosh index only; PostgreSQL has its own tests (tests/search/test_pg.py).
WHOOSH_ONLY = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="whoosh only")

MALFORMED = ['"unclosed', "NEAR(", "*", "AND OR NOT", "x" * 3000, "%", "-", "((", '"" OU ""', "\\", "\ufffd"]


def test_page_finds_highlights_and_links_cases(register, logged_in):
    page = logged_in.get("/search", query_string={"q": "recepisse"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'href="/cases/{register.ivanov.id}"' in html
    assert "<mark>récépissé</mark>" in html
    assert register.other.reference not in html


def test_page_escapes_markup_from_narratives(register, logged_in):
    html = logged_in.get("/search", query_string={"q": "allocations"}).get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_queries_never_5xx(register, logged_in, text):
    response = logged_in.get("/search", query_string={"q": text, "page": "abc", "sort": "nope",
                                                      "from": "2025-13-45", "prefecture": "999"})
    assert response.status_code == 200


def test_hint_in_french_for_a_query_without_words(register, logged_in):
    html = logged_in.get("/search", query_string={"q": "AND OR NOT"}).get_data(as_text=True)
    assert "aucun mot exploitable" in html


def test_filters_facets_and_pagination(register, logged_in, org):
    for i in range(3):
        factories.case(org, narrative=f"Dossier supplémentaire {i}")
    html = logged_in.get("/search", query_string={"q": "", "prefecture": "38"}).get_data(as_text=True)
    assert register.nguyen.reference in html and register.rdv.reference not in html
    html = logged_in.get("/search", query_string={"q": "préfecture"}).get_data(as_text=True)
    assert "38 – Isère" in html and 'class="count"' in html
    page2 = logged_in.get("/search", query_string={"q": "", "page": 2}).get_data(as_text=True)
    assert "Page 2 sur 2" in page2


def test_case_list_query_redirects_to_search(register, logged_in):
    response = logged_in.get("/cases/", query_string={"q": "Diallo"})
    assert response.status_code == 302 and "/search" in response.headers["Location"]


def test_coordinator_page_shows_no_identity(register, org, client):
    coordinator = factories.user(org, "coordinator")
    login(client, coordinator)
    html = client.get("/search", query_string={"q": "Иванов"}).get_data(as_text=True)
    assert register.ivanov.reference not in html
    html = client.get("/search", query_string={"q": "récépissé"}).get_data(as_text=True)
    assert register.ivanov.reference in html
    assert "Иванов".upper() not in html and "Алексей" not in html and "7512345678" not in html


def test_other_association_page_never_sees_them(register, other_org, client):
    login(client, factories.user(other_org, "volunteer"))
    html = client.get("/search", query_string={"q": "884213"}).get_data(as_text=True)
    assert register.ivanov.reference not in html
    html = client.get("/search", query_string={"q": "récépissé"}).get_data(as_text=True)
    assert register.other.reference in html and register.ivanov.reference not in html


def test_login_required(client):
    assert client.get("/search?q=x").status_code in (302, 401)


def test_cli_query_json_best_first(register, app, org):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["search", "query", "884213", "--org", org.slug, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["reference"] == register.ivanov.reference
    assert {"reference", "score", "case_id"} <= set(rows[0])
    result = runner.invoke(args=["search", "query", "récépissé", "--org", org.slug, "--json"])
    refs = [r["reference"] for r in json.loads(result.output)]
    assert register.ivanov.reference in refs and register.other.reference not in refs


def test_cli_unknown_org_fails_in_french(app):
    result = app.test_cli_runner().invoke(args=["search", "query", "x", "--org", "nulle-part"])
    assert result.exit_code == 1
    assert "Association inconnue" in result.output


@WHOOSH_ONLY
def test_cli_reindex_rebuilds_from_the_database(register, app, org):
    import shutil

    from app.search import services

    shutil.rmtree(app.config["INDEX_DIR"])
    services._holder().forget()
    result = app.test_cli_runner().invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "Index reconstruit" in result.output
    assert services.search(org.id, "884213", None, identity=True).references() == [register.ivanov.reference]


@WHOOSH_ONLY
def test_healthz_reports_the_index(app, client):
    import shutil

    from app.search import services

    services.rebuild_index()
    assert client.get("/healthz").status_code == 200
    shutil.rmtree(app.config["INDEX_DIR"])
    services._holder().forget()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["index"] in {"indisponible", "reconstruction en cours"}
