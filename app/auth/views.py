"""Login and logout."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.audit import services as audit
from app.auth import services
from app.auth.forms import LoginForm
from app.auth.models import User
from app.core.clock import utcnow
from app.extensions import db, login_manager

bp = Blueprint("auth", __name__, template_folder="templates")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The session holds "id:version"; a bumped version (password change, deactivation) logs out."""
    try:
        raw_id, raw_version = user_id.split(":")
        user = db.session.get(User, int(raw_id))
    except (ValueError, TypeError):
        return None
    if user is None or not user.active or str(user.session_version) != raw_version:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("cases.list_cases"))
    form = LoginForm()
    if session.pop("expired", False):
        flash("Votre session a expiré : reconnectez-vous.", "info")
    if form.validate_on_submit():
        result = services.authenticate(
            form.email.data, form.password.data,
            max_failures=current_app.config["LOGIN_MAX_FAILURES"],
            lock_minutes=current_app.config["LOGIN_LOCK_MINUTES"],
        )
        db.session.commit()  # failed attempts and throttling must persist
        if result.user is None:
            flash(result.error, "error")
            return render_template("auth/login.html", form=form), 200
        # A fresh session at login: nothing from before survives (session fixation).
        session.clear()
        login_user(result.user)
        session["started_at"] = session["seen_at"] = utcnow().isoformat()
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("cases.list_cases")


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        audit.record("auth.logout", actor=current_user, obj=current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté·e.", "info")
    return redirect(url_for("auth.login"))
