"""Public endpoints (home, health) and error pages."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError

from app.auth.permissions import can
from app.extensions import db, login_manager

bp = Blueprint("core", __name__)

# Views reachable without logging in; every other endpoint requires a session.
PUBLIC_ENDPOINTS = {"core.healthz", "auth.login", "static", "privacy.notice"}


@bp.route("/")
def index():
    return redirect(url_for("cases.list_cases"))


@bp.route("/healthz")
def healthz():
    """200 when the database, the data directory and the search index answer; 503 otherwise."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "indisponible"
    data_dir = current_app.config["DATA_DIR"]
    checks["data_dir"] = "ok" if data_dir.is_dir() and _writable(data_dir) else "indisponible"
    from app.search import services as search_services

    checks["index"] = search_services.index_health()
    store = current_app.config["EXHIBIT_DIR"]
    if current_app.config.get("EXHIBIT_STORE"):
        # A shared store must be mounted: a missing mount would otherwise fill the local folder.
        checks["exhibit_store"] = "ok" if store.is_dir() and _writable(store) else "indisponible"
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks, backends=_backends()), \
        200 if healthy else 503


def _backends() -> dict:
    """Which backend each part uses on this server: with several servers behind a proxy, each
    says what it runs on (a server left on SQLite or with its own threads shows at once)."""
    database = db.engine.dialect.name
    try:
        from app.search import pg  # noqa: F401  (the PostgreSQL search backend, when installed)
        search = "postgresql" if database == "postgresql" else "whoosh"
    except ImportError:
        search = "whoosh"
    return {
        "database": database,
        "search": search,
        "exhibits": "shared" if current_app.config.get("EXHIBIT_STORE") else "local",
        "workers": "in-app" if current_app.config.get("START_WORKERS") else "external",
    }


def _writable(path) -> bool:
    import os

    return os.access(path, os.W_OK)


def register_error_handlers(app) -> None:
    def page(code: int, title: str, message: str):
        return render_template("errors/error.html", code=code, title=title, message=message), code

    @app.errorhandler(400)
    def bad_request(e):
        return page(400, "Requête invalide", "La requête n'a pas pu être comprise.")

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return page(400, "Formulaire expiré",
                    "Le formulaire a expiré ou n'est pas valide. Rechargez la page et recommencez : "
                    "rien n'a été enregistré.")

    @app.errorhandler(403)
    def forbidden(e):
        return page(403, "Accès refusé", "Votre rôle ne permet pas cette action.")

    @app.errorhandler(404)
    def not_found(e):
        return page(404, "Page introuvable", "Cette page n'existe pas ou ne vous est pas accessible.")

    @app.errorhandler(405)
    def method_not_allowed(e):
        return page(405, "Méthode non autorisée", "Cette action n'est pas possible ainsi.")

    @app.errorhandler(413)
    def too_large(e):
        limit = current_app.config["MAX_EXHIBIT_BYTES"] // (1024 * 1024)
        return page(413, "Fichier trop volumineux",
                    f"Le fichier dépasse la taille maximale autorisée ({limit} Mo). Rien n'a été enregistré.")

    @app.errorhandler(429)
    def too_many(e):
        return page(429, "Trop de tentatives", "Trop de tentatives : patientez quelques minutes.")

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)  # "connection is closed": the server went away under it
    def database_unavailable(e):
        try:
            db.session.rollback()
        except (OperationalError, InterfaceError):
            pass  # the connection is gone already; the pool replaces it
        if not _unreachable(e):
            # A missing column, a deadlock, a statement timeout: a bug or a load problem, to be
            # seen whole in the logs (bound parameters are hidden by the engine).
            current_app.log_exception((type(e), e, e.__traceback__))
            return page(500, "Erreur interne",
                        "Une erreur est survenue ; rien n'a été enregistré. Réessayez ou prévenez l'administration.")
        # PostgreSQL restarting or unreachable, SQLite busy past its timeout: temporary; the
        # server recovers by itself.
        current_app.logger.warning("database unavailable: %s", type(e.orig).__name__ if e.orig else "")
        # The page is drawn as for a visitor: who is signed in can only be read from the database.
        g._login_user = login_manager.anonymous_user()
        # A connection lost during a commit may have committed it: the member checks before resending.
        response = page(503, "Service momentanément indisponible",
                        "La base de données ne répond pas pour le moment : ce que vous venez d'envoyer n'a "
                        "peut-être pas été enregistré, vérifiez-le avant de recommencer. Réessayez dans une "
                        "minute ; si cela dure, prévenez l'administration.")
        return response[0], 503, {"Retry-After": "30"}

    @app.errorhandler(500)
    def server_error(e):
        if isinstance(getattr(e, "original_exception", None), OperationalError | InterfaceError):
            # Raised outside the view (opening the session, an after-request hook): the same 503.
            return database_unavailable(e.original_exception)
        db.session.rollback()
        return page(500, "Erreur interne",
                    "Une erreur est survenue ; rien n'a été enregistré. Réessayez ou prévenez l'administration.")


def _unreachable(e: OperationalError | InterfaceError) -> bool:
    """Is this a database that cannot be reached right now (rather than a failing statement)?"""
    if getattr(e, "connection_invalidated", False):
        return True
    sqlstate = getattr(e.orig, "sqlstate", None)
    if sqlstate:
        # Connection exceptions (08…), and the server shutting down or starting up (57P01-03).
        return sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}
    if "database is locked" in str(e.orig):
        return True  # SQLite busy past its timeout
    # psycopg's client-side failures (connection refused, no route) carry no SQLSTATE.
    return type(e.orig).__module__.split(".")[0] == "psycopg"


def register_template_helpers(app) -> None:
    from app.cases.deadlines import URGENCY_LABELS
    from app.core import formats

    @app.context_processor
    def helpers():
        return {"can": lambda capability: can(current_user, capability)}

    app.jinja_env.globals["URGENCY_LABELS"] = URGENCY_LABELS
    app.jinja_env.globals["current_app"] = app

    app.jinja_env.filters["date_fr"] = formats.date_fr
    app.jinja_env.filters["date_long"] = formats.date_long
    app.jinja_env.filters["datetime_fr"] = formats.datetime_fr
    app.jinja_env.filters["duration_fr"] = formats.duration_fr

    @app.before_request
    def require_login():
        """Login required everywhere unless the endpoint is explicitly public."""
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        return None
