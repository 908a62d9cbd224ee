"""Every migration goes up and down, and the migrated schema equals the models (SecureDrop)."""

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.config import testing_config as make_config
from app.extensions import db


def migrated_app(tmp_path):
    app = create_app(make_config(tmp_path / "data"))
    return app


def _empty_database():
    if os.environ.get("TEST_DATABASE_URL"):
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


def test_upgrade_gives_the_models_schema_and_downgrade_works(tmp_path):
    app = migrated_app(tmp_path)
    with app.app_context():
        _empty_database()
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            codes = conn.execute(text("SELECT count(*) FROM codes WHERE kind = 'blocage'")).scalar()
            assert codes == 19
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()  # and up again
        assert "cases" in inspect(db.engine).get_table_names()
        _empty_database()
        db.engine.dispose()


def test_0007_fills_outcomes_only_where_the_description_is_certain(tmp_path):
    """Rows written before outcomes existed: the migration reads each ORDONNANCE/REFERE text once,
    fills what it states without doubt, leaves the rest blank, and names pièces by their type."""
    app = migrated_app(tmp_path)
    with app.app_context():
        _empty_database()
        upgrade(revision="0006_privacy")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO organisations (id, slug, name, ref_prefix, require_2fa, retention_days, "
                              "created_at) VALUES (1, 'o', 'O', 'O', false, 730, '2025-01-01')"))
            conn.execute(text(
                "INSERT INTO cases (id, org_id, reference, prefecture, demarche, titre_demande, titre_actuel, "
                "anef_number, status, opened_on, narrative, legal_hold, urgency, created_at, updated_at, version) "
                "VALUES (1, 1, 'O-1', '69', 'RENOUV', '', '', '', 'OUVERT', '2025-01-01', '', false, 0, "
                "'2025-01-01', '2025-01-01', 1)"))
            rows = [(1, "ORDONNANCE", "Ordonnance : injonction au préfet d'enregistrer la demande sous 15 jours."),
                    (2, "ORDONNANCE", "Ordonnance de rejet : urgence non caractérisée selon le juge."),
                    (3, "ORDONNANCE", "Pas d'injonction, le juge renvoie à plus tard."),
                    (4, "ORDONNANCE", "Ordonnance rendue."),
                    (5, "REFERE", "Référé mesures utiles déposé au tribunal administratif."),
                    (6, "TENTATIVE", "Injonction lue sur un forum.")]
            for id_, type_, description in rows:
                conn.execute(text("INSERT INTO events (id, case_id, date, type, description, reference, created_at) "
                                  "VALUES (:id, 1, '2025-03-01', :type, :d, '', '2025-03-01')"),
                             {"id": id_, "type": type_, "d": description})
            conn.execute(text(
                "INSERT INTO exhibits (id, case_id, number, sha256, size, mime, extension, original_name, "
                "description, added_at, withdrawn_reason, ocr_status, ocr_text) VALUES "
                "(1, 1, 1, :h, 3, 'image/png', '.png', 'a.png', '', '2025-03-01', '', 'done', ''), "
                "(2, 1, 2, :g, 3, 'message/rfc822', '.eml', 'b.eml', '', '2025-03-01', '', 'done', '')"),
                {"h": "a" * 64, "g": "b" * 64})
        upgrade(revision="0007_legal")
        with db.engine.connect() as conn:
            outcomes = dict(conn.execute(text("SELECT id, outcome FROM events ORDER BY id")).all())
            natures = dict(conn.execute(text("SELECT id, nature FROM exhibits ORDER BY id")).all())
            evenement = {r[0] for r in conn.execute(text("SELECT code FROM codes WHERE kind = 'evenement'"))}
        assert outcomes == {1: "INJONCTION", 2: "REJET", 3: "", 4: "", 5: "L521-3", 6: ""}
        assert natures == {1: "CAPTURE", 2: "COURRIEL"}
        assert {"REFUS", "OQTF"} <= evenement
        _empty_database()
        db.engine.dispose()
