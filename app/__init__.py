"""Constat: the application factory."""

from __future__ import annotations

import importlib
import logging
import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.config import Config
from app.extensions import csrf, db, login_manager, migrate


# Domain packages, in blueprint registration order.
DOMAINS = ("core", "auth", "cases", "evidence", "search", "exports", "legal", "audit", "privacy", "backup",
           "deadlines", "coalitions", "jobs")


def create_app(config: Config | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error handlers, CLI."""
    app = Flask(__name__)
    config = config or Config()
    config.finalise()
    app.config.from_object(config)
    # SQL errors would otherwise print their bound parameters (names, numbers, narratives) to logs.
    engine_options = {"hide_parameters": True}
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Several threads (OCR worker, requests) share the file; wait rather than fail.
        engine_options["connect_args"] = {"timeout": 30}
    else:
        # A pooled connection may have died with a PostgreSQL restart: test it when taken from the
        # pool, so the first request after the restart works instead of failing.
        engine_options["pool_pre_ping"] = True
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)
    # Files written in DATA_DIR (database, exhibits, thumbnails, backups) are for this user only.
    os.umask(0o077)

    _configure_logging(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    csrf.init_app(app)
    login_manager.init_app(app)

    from app import models  # noqa: F401  (register every model with SQLAlchemy)
    from app.core import security, views as core_views, workers

    # Each domain package may have views.py with `bp` (its blueprint) and `init_app(app)`
    # (workers, hooks, case-page sections), and cli.py with `cli_groups`.
    for name in DOMAINS:
        views = importlib.import_module(f"app.{name}.views")
        if hasattr(views, "bp"):
            app.register_blueprint(views.bp)
        if hasattr(views, "init_app"):
            views.init_app(app)
    security.init_app(app)
    core_views.register_error_handlers(app)
    core_views.register_template_helpers(app)

    from app.cli import register_cli
    register_cli(app)
    workers.init_app(app)
    return app


def _migrations_dir():
    from pathlib import Path
    return Path(__file__).resolve().parent.parent / "migrations"


def _configure_logging(app: Flask) -> None:
    # Never log request bodies or query strings: they carry personal data.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.logger.setLevel(logging.INFO)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Foreign keys on, WAL and a busy timeout for every SQLite connection."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
