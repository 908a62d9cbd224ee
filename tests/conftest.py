"""Fixtures: a fresh app and database per test (SQLite file in tmp_path, or the PostgreSQL
database named by TEST_DATABASE_URL), a client, a login helper and factories."""

from __future__ import annotations

import os
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.config import testing_config as make_config
from app.extensions import db as _db
from tests import factories

PASSWORD = factories.PASSWORD


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production.

    The `app` fixture keeps an app context pushed for the test's own database work; Flask
    would reuse it for every request, sharing `g` (and so cached CSRF tokens) and the
    SQLAlchemy session between requests that are separate in real life.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        _db.session.expire_all()  # the test's session sees what the request committed
        return response


@pytest.fixture
def app(tmp_path):
    app = create_app(make_config(tmp_path / "data"))
    app.test_client_class = FreshContextClient
    with app.app_context():
        if os.environ.get("TEST_DATABASE_URL"):
            _reset_postgres()
        _db.create_all()
        factories.load_reference_data()
        _db.session.commit()
        yield app
        _db.session.remove()
        if os.environ.get("TEST_DATABASE_URL"):
            _reset_postgres()
        _db.engine.dispose()


def _reset_postgres():
    _db.session.remove()
    with _db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def org(db):
    return factories.organisation("assoc-lyon", "LYO")


@pytest.fixture
def other_org(db):
    return factories.organisation("assoc-paris", "PAR")


@pytest.fixture
def volunteer(org):
    return factories.user(org, "volunteer")


def csrf_token(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, user, password=PASSWORD):
    """Log in through the real form, CSRF token included."""
    token = csrf_token(client)
    response = client.post("/login", data={"email": user.email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def logged_in(client, volunteer):
    login(client, volunteer)
    return client
