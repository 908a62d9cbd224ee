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
