"""The database goes away (PostgreSQL restarted or unreachable): a clear French page, nothing
written, and the server recovers by itself once the database is back (issue 13, faults)."""

from __future__ import annotations

import html
import os

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from app import create_app
from app.cases.models import Case
from app.config import testing_config as config_for_tests
from app.extensions import db
from tests import factories
from tests.cases.test_views import post_new
from tests.conftest import login

ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


def _unreachable_app(tmp_path):
    # Nothing listens on port 9 of the loopback: every connection is refused, as while
    # PostgreSQL restarts. Same SECRET_KEY as the test app: its session cookies are valid here.
    config = config_for_tests(tmp_path / "down")
    config.SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    return create_app(config)


def _says_unavailable(response) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    page = html.unescape(response.get_data(as_text=True))
    assert "La base de données ne répond pas pour le moment : ce que vous venez d'envoyer n'a peut-être pas " \
           "été enregistré, vérifiez-le avant de recommencer." in page
    assert "nobody" not in page and "Traceback" not in page


def test_a_signed_in_member_gets_the_same_page_when_the_database_is_down(app, client, org, tmp_path):
    """Who is signed in is read from the database before any view runs: that failure too gets
    the French page, drawn as for a visitor."""
    login(client, factories.user(org, "volunteer"))
    down = _unreachable_app(tmp_path).test_client()
    down.set_cookie(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    _says_unavailable(down.get("/cases/"))


def test_an_unreachable_database_gets_a_french_page_and_a_503(tmp_path):
    _says_unavailable(_unreachable_app(tmp_path).test_client().get("/stats/demo-lyon"))  # public: first a query


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's OperationalError for a missing table (PostgreSQL's is a ProgrammingError)")
def test_a_failing_statement_is_a_500_not_a_pause(tmp_path):
    """A missing table (a migration not applied) is no outage: 500, and the traceback is logged."""
    app = create_app(config_for_tests(tmp_path / "empty"))  # no tables created
    response = app.test_client().get("/stats/demo-lyon")
    with app.app_context():
        db.engine.dispose()
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    assert "Service momentanément indisponible" not in html.unescape(response.get_data(as_text=True))


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: SQLite has no server to restart")
def test_the_server_recovers_by_itself_when_postgresql_drops_every_connection(app, client, org):
    """What a restart does to the app's pooled connections, without stopping the shared cluster:
    every backend of this database but ours is terminated. The next requests just work."""
    volunteer = factories.user(org, "volunteer")
    login(client, volunteer)
    assert client.get("/cases/").status_code == 200
    db.session.remove()
    with create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool).connect() as admin:
        killed = admin.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert killed >= 1
    assert client.get("/cases/").status_code == 200
    response = post_new(client)
    assert response.status_code in (302, 303), response.status_code
    assert db.session.scalar(select(func.count(Case.id))) == 1
