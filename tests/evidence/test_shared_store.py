"""Two app servers on one database and one EXHIBIT_STORE (issue 13): an exhibit uploaded through
one is served byte for byte by the other, thumbnails included, and neither server's DATA_DIR
ever holds exhibit bytes or thumbnails (a server may lose its DATA_DIR at any time)."""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import select, text

from app import create_app
from app.config import testing_config as make_config
from app.evidence.models import Exhibit
from app.extensions import db as _db
from tests import factories
from tests.conftest import FreshContextClient, login
from tests.evidence import files
from tests.evidence.helpers import upload


def _server(data_dir, db_url, store):
    config = make_config(data_dir)
    config.SQLALCHEMY_DATABASE_URI = db_url
    config.EXHIBIT_STORE = str(store)
    app = create_app(config)
    app.test_client_class = FreshContextClient
    return app


def _reset_postgres():
    _db.session.remove()
    with _db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


@pytest.fixture
def servers(tmp_path):
    shared = tmp_path / "partage"
    store = shared / "exhibits"
    store.mkdir(parents=True)
    db_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{shared / 'constat.db'}"
    first = _server(tmp_path / "serveur-a", db_url, store)
    second = _server(tmp_path / "serveur-b", db_url, store)
    with first.app_context():
        if os.environ.get("TEST_DATABASE_URL"):
            _reset_postgres()
        _db.create_all()
        factories.load_reference_data()
        _db.session.commit()
        yield first, second
        _db.session.remove()
        if os.environ.get("TEST_DATABASE_URL"):
            _reset_postgres()
        _db.engine.dispose()
    with second.app_context():
        _db.engine.dispose()


def _files_under(folder) -> list[str]:
    return [os.path.join(d, n) for d, _dirs, names in os.walk(folder) for n in names]


def test_config_puts_exhibits_thumbnails_and_word_bases_in_the_shared_store(servers, tmp_path):
    first, second = servers
    for app in servers:
        assert app.config["EXHIBIT_DIR"] == (tmp_path / "partage" / "exhibits").resolve()
        assert app.config["THUMBNAIL_DIR"] == (tmp_path / "partage" / "thumbnails").resolve()
        assert app.config["TEMPLATE_DIR"] == (tmp_path / "partage" / "brief_templates").resolve()
        assert not app.config["EXHIBIT_DIR"].is_relative_to(app.config["DATA_DIR"])
    assert first.config["DATA_DIR"] != second.config["DATA_DIR"]


def test_default_store_stays_in_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("EXHIBIT_STORE", raising=False)
    config = make_config(tmp_path / "seul")
    config.finalise()
    assert config.EXHIBIT_DIR == config.DATA_DIR / "exhibits"
    assert config.THUMBNAIL_DIR == config.DATA_DIR / "thumbnails"


def test_upload_on_one_server_downloads_byte_identical_on_the_other(servers):
    first, second = servers
    org = factories.organisation("assoc-lyon", "LYO")
    user = factories.user(org, "volunteer")
    case = factories.case(org, user)
    client_a, client_b = first.test_client(), second.test_client()
    login(client_a, user)
    # The session opened on the first server is valid on the second (same SECRET_KEY, same database).
    client_b.set_cookie("constat_session", client_a.get_cookie("constat_session").value)
    content = files.png(200, 120, "darkred")
    assert upload(client_a, case.id, (content, "capture.png")).status_code == 302

    exhibit = _db.session.scalars(select(Exhibit)).one()
    response = client_b.get(f"/exhibits/{exhibit.id}")
    assert response.status_code == 200
    assert hashlib.sha256(response.data).hexdigest() == hashlib.sha256(content).hexdigest() == exhibit.sha256
    thumb = client_b.get(f"/exhibits/{exhibit.id}/thumb.png")
    assert thumb.status_code == 200 and thumb.data.startswith(b"\x89PNG")
    # The first server serves the thumbnail the second one made, from the shared cache.
    assert client_a.get(f"/exhibits/{exhibit.id}/thumb.png").data == thumb.data

    shared = first.config["EXHIBIT_DIR"].parent
    assert (first.config["EXHIBIT_DIR"] / exhibit.sha256[:2] / exhibit.sha256[2:4] / exhibit.sha256).is_file()
    assert [p for p in _files_under(shared / "thumbnails") if p.endswith("-thumb.png")]
    for app in servers:
        data_dir = app.config["DATA_DIR"]
        assert not (data_dir / "exhibits").exists() and not (data_dir / "thumbnails").exists()
        for path in _files_under(data_dir):
            with open(path, "rb") as fh:
                blob = fh.read()
            assert content not in blob and thumb.data not in blob, path


def test_healthz_names_the_backends_and_checks_the_shared_store(servers):
    first, _second = servers
    body = first.test_client().get("/healthz").get_json()
    assert body["checks"]["exhibit_store"] == "ok"
    expected_db = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
    assert body["backends"]["database"] == expected_db
    assert body["backends"]["exhibits"] == "shared"
    assert body["backends"]["workers"] == "external"
    assert body["backends"]["search"] in {"postgresql", "whoosh"}
    if expected_db == "sqlite":
        assert body["backends"]["search"] == "whoosh"

    # The store unmounted: this server says so and answers 503 instead of writing elsewhere.
    store = first.config["EXHIBIT_DIR"]
    store.rename(store.with_name("exhibits-demonte"))
    try:
        response = first.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["exhibit_store"] == "indisponible"
    finally:
        store.with_name("exhibits-demonte").rename(store)


def test_a_store_that_refuses_writes_gets_a_french_reason_and_records_nothing(app, tmp_path, monkeypatch):
    """A full or read-only disk (simulated: the operating system's answer is outside our
    control) and a shared store whose mount is missing: a French refusal, no exhibit row."""
    from app.evidence import services as evidence
    from app.evidence.models import Exhibit
    from app.evidence.storage import ExhibitStore
    from app.extensions import db
    from tests import factories

    org = factories.organisation("assoc-store", "STO")
    volunteer = factories.user(org, "volunteer")
    case = factories.case(org, volunteer)

    def full(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ExhibitStore, "put", full)
    with pytest.raises(evidence.ExhibitRefused, match="rien n'a été enregistré"):
        evidence.add_exhibit(case, files.png(), "a.png", volunteer)
    db.session.rollback()
    monkeypatch.undo()
    app.config["EXHIBIT_STORE"] = str(tmp_path / "unmounted")
    app.config["EXHIBIT_DIR"] = tmp_path / "unmounted"
    with pytest.raises(evidence.ExhibitRefused, match="dépôt partagé absent"):
        evidence.add_exhibit(case, files.png(color="olive"), "b.png", volunteer)
    db.session.rollback()
    assert not (tmp_path / "unmounted").exists()
    assert db.session.query(Exhibit).count() == 0
