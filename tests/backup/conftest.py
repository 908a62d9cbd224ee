"""Fixtures for backups: an installation full of real data, a fresh empty target, subprocess env."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from app import create_app
from app.config import testing_config
from app.extensions import db as _db
from tests import factories
from tests.privacy.helpers import exhibit, png_bytes

ROOT = Path(__file__).resolve().parents[2]


def is_postgres(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


@pytest.fixture
def filled(app, org, other_org):
    """Two associations, cases with people, timelines, exhibits (one shared) and a Word template."""
    volunteer = factories.user(org, "volunteer")
    cases = []
    for number in range(1, 6):
        case = factories.case(org, volunteer, last_name=f"Nom{number}", narrative=f"Récit n° {number}",
                              birth_date=date(1990, 1, number))
        factories.event(case, "TENTATIVE", date(2025, 3, number), description=f"Tentative {number}")
        exhibit(case, png_bytes(number))
        cases.append(case)
    exhibit(factories.case(other_org, None, last_name="Ailleurs"), png_bytes(1))  # same bytes, other case
    templates = Path(app.config["TEMPLATE_DIR"])
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "memoire.docx").write_bytes(b"PK\x03\x04 modele de memoire")
    index = Path(app.config["INDEX_DIR"])
    index.mkdir(parents=True, exist_ok=True)
    (index / "MAIN_segment.seg").write_bytes(b"index data")
    return cases


def snapshot_of_database() -> dict:
    """What must survive a restore: references, names, events and exhibit digests per case."""
    rows = _db.session.execute(text(
        "SELECT c.reference, p.last_name, c.narrative, (SELECT count(*) FROM events e WHERE e.case_id = c.id) "
        "FROM cases c LEFT JOIN persons p ON p.id = c.person_id")).all()
    exhibits = _db.session.execute(text(
        "SELECT c.reference, x.number, x.sha256, x.size FROM exhibits x JOIN cases c ON c.id = x.case_id")).all()
    return {"cases": sorted(tuple(r) for r in rows), "exhibits": sorted(tuple(r) for r in exhibits)}


@pytest.fixture
def target_app(app, tmp_path):
    """A second installation with an empty DATA_DIR (and, on PostgreSQL, the schema dropped
    just before restoring: the test database is the same one)."""
    created = []

    def make(drop_source_schema: bool = True, store: Path | None = None):
        overrides = {"EXHIBIT_STORE": str(store)} if store else {}
        target = create_app(testing_config(tmp_path / "restored", **overrides))
        if is_postgres(target) and drop_source_schema:
            _db.session.remove()
            with target.app_context():
                _db.session.remove()
                with _db.engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                _db.engine.dispose()
            _db.engine.dispose()
        created.append(target)
        return target

    yield make
    for target in created:
        with target.app_context():
            _db.session.remove()
            _db.engine.dispose()


def subprocess_env(app) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DATA_DIR": str(app.config["DATA_DIR"]), "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "SECRET_KEY": app.config["SECRET_KEY"], "START_WORKERS": "0", "FLASK_APP": "wsgi",
                "PYTHONPATH": str(ROOT)})
    env.pop("CONSTAT_ENV", None)
    return env


FLASK = [sys.executable, "-m", "flask"]
