"""Login (password, then the second factor), own account ("Mon compte") and the association's accounts."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.audit import services as audit
from app.auth import services, sessions
from app.auth.forms import (ActionForm, DisableTotpForm, ForgotPasswordForm, LoginForm, MemberForm,
                            PasswordChangeForm, ProfileForm, RequireTotpForm, ResetPasswordForm, SecondFactorForm)
from app.auth.models import User
from app.auth.permissions import can
from app.core.views import PUBLIC_ENDPOINTS
from app.extensions import db, login_manager

bp = Blueprint("auth", __name__, template_folder="templates")

# Reachable after the password but before the second factor.
SECOND_FACTOR_ENDPOINTS = {"auth.second_factor", "auth.enrol_totp", "auth.logout"}


def init_app(app) -> None:
    # Password reset: reached by people who cannot log in (the signed link is the credential).
    PUBLIC_ENDPOINTS.update({"auth.forgot_password", "auth.reset_password"})


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The cookie holds "id:version" and a session token; the token must name a live row of
    user_sessions (logout, deactivation, password change and 2FA reset end those rows)."""
    try:
        raw_id, raw_version = user_id.split(":")
        user = db.session.get(User, int(raw_id))
    except (ValueError, TypeError, OverflowError):
        return None
    if user is None or not user.active or str(user.session_version) != raw_version:
        return None
    row = sessions.find(session.get("sid"))
    if row is None or row.user_id != user.id:
        return None
    g.user_session = row
    return user


def _row():
    """This browser's session row (set by load_user, or by login for the current request)."""
    return g.get("user_session")


def _ip() -> str:
    # remote_addr is the client's address; behind a proxy only with TRUSTED_PROXIES (ProxyFix).
    return request.remote_addr or ""


@bp.before_app_request
def require_second_factor():
    """Nothing but the second-factor pages until this session has passed TOTP, for enrolled
    users and for every member of an association that requires it (forced enrolment)."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS | SECOND_FACTOR_ENDPOINTS:
        return None
    if not current_user.is_authenticated or (_row() is not None and _row().second_factor_passed):
        return None
    if not services.needs_second_factor(current_user):
        return None
    return redirect(url_for("auth.second_factor" if current_user.totp_secret else "auth.enrol_totp"))


def _config(name: str) -> int:
    return current_app.config[name]


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
            max_failures=_config("LOGIN_MAX_FAILURES"), lock_minutes=_config("LOGIN_LOCK_MINUTES"), ip=_ip(),
        )
        db.session.commit()  # failed attempts and throttling must persist
        if result.user is None:
            flash(result.error, "error")
            return render_template("auth/login.html", form=form), 200
        # A fresh session at login: nothing from before survives (session fixation).
        session.clear()
        login_user(result.user)
        row, token = sessions.start(result.user, ip=_ip(), user_agent=request.headers.get("User-Agent", ""))
        db.session.commit()
        session["sid"] = token
        g.user_session = row
        target = _safe_next(request.args.get("next"))
        if services.needs_second_factor(result.user):
            session["next"] = target
            return redirect(url_for("auth.second_factor"))
        return redirect(target)
    return render_template("auth/login.html", form=form)


FORGOT_SENT = ("Si un compte actif existe à cette adresse, un courriel vient de lui être envoyé avec un lien "
               "pour choisir un nouveau mot de passe (valable {minutes} minutes). Pensez aux indésirables.")


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a reset link. Same answer, same time, whether the address exists or not."""
    from app.auth import reset
    from app.deadlines.mail import SmtpSettings

    settings = SmtpSettings.from_config(current_app.config)
    form = ForgotPasswordForm()
    if settings is not None and form.validate_on_submit():
        user = reset.request_reset(form.email.data, ip=_ip())
        db.session.commit()
        if user is not None:
            minutes = _config("PASSWORD_RESET_MINUTES")
            link = current_app.config["BASE_URL"] + url_for(
                "auth.reset_password", token=reset.make_token(user, current_app.config["SECRET_KEY"]))
            reset.send_in_background(settings, reset.reset_message(user.email, settings.sender, link, minutes))
        flash(FORGOT_SENT.format(minutes=_config("PASSWORD_RESET_MINUTES")), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form, enabled=settings is not None), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    from app.auth import reset

    user = reset.user_for_token(token, current_app.config["SECRET_KEY"], _config("PASSWORD_RESET_MINUTES"))
    if user is None:
        return render_template("auth/reset.html", form=None), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            reset.complete_reset(user, form.new_password.data, ip=_ip())
        except services.AccountError as exc:
            db.session.rollback()
            form.new_password.errors = [str(exc)]
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Mot de passe changé : connectez-vous avec le nouveau. Vos sessions ouvertes ont été fermées.",
                  "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), 422 if form.errors else 200


def _safe_next(target: str | None) -> str:
    """A local path only: browsers drop tabs and newlines, so "/\t/evil.com" means "//evil.com"."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("cases.list_cases")


@bp.route("/login/2fa", methods=["GET", "POST"])
def second_factor():
    """The second step of the login: a TOTP code (once only) or a recovery code."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if _row().second_factor_passed or not services.needs_second_factor(current_user):
        return redirect(_safe_next(session.pop("next", None)))
    if not current_user.totp_secret:
        return redirect(url_for("auth.enrol_totp"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        error = services.check_second_factor(
            current_user, form.code.data,
            max_failures=_config("LOGIN_MAX_FAILURES"), lock_minutes=_config("LOGIN_LOCK_MINUTES"), ip=_ip())
        if error is None:
            _row().second_factor_passed = True
        db.session.commit()
        if error is None:
            if services.recovery_codes_left(current_user) <= 2:
                flash("Il vous reste peu de codes de secours : générez-en de nouveaux dans « Mon compte ».", "warning")
            return redirect(_safe_next(session.pop("next", None)))
        if services.lock_message(current_user):
            sessions.revoke(_row())
            db.session.commit()
            logout_user()
            session.clear()
            flash(error, "error")
            return redirect(url_for("auth.login"))
        form.code.errors = [error]
    return render_template("auth/second_factor.html", form=form), 422 if form.errors else 200


@bp.route("/account/2fa/setup", methods=["GET", "POST"])
def enrol_totp():
    """Enrolment: scan the QR code, confirm with a first code, keep the recovery codes."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.totp_secret:
        # Changing device goes through "disable" (or an admin reset), never around the second factor.
        return redirect(url_for("auth.account" if _row().second_factor_passed else "auth.second_factor"))
    # The seed being enrolled stays on the server (encrypted), never in the cookie.
    row = _row()
    secret = services.decrypt_secret(row.pending_totp) if row.pending_totp else None
    if not secret:
        secret = services.new_totp_secret()
        row.pending_totp = services.encrypt_secret(secret)
        db.session.commit()
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            codes = services.enable_totp(current_user, secret, form.code.data)
        except services.AccountError as exc:
            db.session.rollback()
            form.code.errors = [str(exc)]
        else:
            row.pending_totp = None
            row.second_factor_passed = True
            db.session.commit()
            return render_template("auth/recovery_codes.html", codes=codes,
                                   next_url=_safe_next(session.pop("next", None)))
    uri = services.totp_uri(current_user, secret)
    return render_template("auth/enrol.html", form=form, secret=secret, qr=services.qr_data_url(uri),
                           forced=current_user.organisation.require_2fa), 422 if form.errors else 200


# --- Mon compte -----------------------------------------------------------------------------

def _account_page(status: int = 200, **forms):
    from app.deadlines.forms import DigestForm

    forms.setdefault("profile_form", ProfileForm(full_name=current_user.full_name))
    forms.setdefault("password_form", PasswordChangeForm(formdata=None))
    forms.setdefault("disable_form", DisableTotpForm(formdata=None))
    forms.setdefault("digest_form", DigestForm(formdata=None, digest=current_user.digest))
    live = sessions.live(current_user, idle=timedelta(minutes=_config("SESSION_IDLE_MINUTES")),
                         lifetime=timedelta(hours=_config("SESSION_MAX_HOURS")))
    return render_template("auth/account.html", action_form=ActionForm(), live_sessions=live,
                           this_session=_row(), browser_label=sessions.browser_label,
                           codes_left=services.recovery_codes_left(current_user),
                           calendar_url=_calendar_url(create=status == 200), **forms), status


def _calendar_url(create: bool) -> str | None:
    """The user's feed address, its key created on the first visit of « Mon compte » (not on a
    page answering a refused form, whose transaction was rolled back); None if revoked."""
    from app.deadlines import services as deadlines

    token = deadlines.calendar_token(current_user, current_app.config["SECRET_KEY"], create=create)
    return url_for("deadlines.calendar_feed", token=token, _external=True) if token else None


@bp.route("/account/")
def account():
    page = _account_page()
    db.session.commit()  # a calendar key created on the first visit
    return page


@bp.route("/account/profile", methods=["POST"])
def update_profile():
    form = ProfileForm()
    if form.validate_on_submit():
        # Only full_name is read: a posted role, org_id or email is ignored.
        try:
            services.update_profile(current_user, form.full_name.data)
        except services.AccountError as exc:
            db.session.rollback()
            form.full_name.errors = [str(exc)]
        else:
            db.session.commit()
            flash("Nom enregistré.", "success")
            return redirect(url_for("auth.account"))
    return _account_page(422, profile_form=form)


@bp.route("/account/password", methods=["POST"])
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data,
                                     ip=_ip(), keep=_row())
        except services.AccountError as exc:
            db.session.commit()  # a wrong current password counts (nothing else was changed)
            form.new_password.errors = [str(exc)]
        else:
            db.session.commit()
            # Every other session ended with the version bump; this one carries on with the new id.
            user = current_user._get_current_object()
            login_user(user)
            flash("Mot de passe changé. Vos autres sessions ont été fermées.", "success")
            return redirect(url_for("auth.account"))
    return _account_page(422, password_form=form)


@bp.route("/account/2fa/disable", methods=["POST"])
def disable_totp():
    form = DisableTotpForm()
    if form.validate_on_submit():
        try:
            services.disable_totp(current_user, form.password.data, ip=_ip())
        except services.AccountError as exc:
            db.session.commit()  # a wrong current password counts (nothing else was changed)
            form.password.errors = [str(exc)]
        else:
            db.session.commit()
            flash("Double authentification désactivée.", "success")
            return redirect(url_for("auth.account"))
    return _account_page(422, disable_form=form)


@bp.route("/account/2fa/recovery-codes", methods=["POST"])
def regenerate_recovery_codes():
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        codes = services.regenerate_recovery_codes(current_user)
    except services.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("auth.account"))
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, next_url=url_for("auth.account"))


@bp.route("/account/digest", methods=["POST"])
def update_digest():
    from app.deadlines import services as deadlines
    from app.deadlines.forms import DigestForm

    form = DigestForm()
    if not form.validate_on_submit():
        return _account_page(422, digest_form=form)
    deadlines.set_digest(current_user, form.digest.data)
    db.session.commit()
    flash({"daily": "Vous recevrez le récapitulatif des échéances chaque jour.",
           "weekly": "Vous recevrez le récapitulatif des échéances chaque semaine.",
           "off": "Vous ne recevrez plus le récapitulatif des échéances par courriel."}[form.digest.data], "success")
    return redirect(url_for("auth.account", _anchor="echeances"))


@bp.route("/account/calendar/regenerate", methods=["POST"])
def regenerate_calendar():
    from app.deadlines import services as deadlines

    if not ActionForm().validate_on_submit():
        abort(400)
    deadlines.regenerate_calendar(current_user)
    db.session.commit()
    flash("Nouvelle adresse d'agenda créée : l'ancienne ne fonctionne plus. Abonnez vos agendas à la nouvelle.",
          "success")
    return redirect(url_for("auth.account", _anchor="echeances"))


@bp.route("/account/calendar/revoke", methods=["POST"])
def revoke_calendar():
    from app.deadlines import services as deadlines

    if not ActionForm().validate_on_submit():
        abort(400)
    deadlines.revoke_calendar(current_user)
    db.session.commit()
    flash("Adresse d'agenda révoquée : vos agendas ne recevront plus les échéances.", "success")
    return redirect(url_for("auth.account", _anchor="echeances"))


# --- the association's accounts (admins) -----------------------------------------------------

def _require_admin() -> None:
    if not can(current_user, "accounts.manage"):
        abort(403)


def _members_page(status: int = 200, member_form: MemberForm | None = None):
    org = current_user.organisation
    return render_template("auth/members.html", members=services.members(org.id), org=org,
                           member_form=member_form or MemberForm(formdata=None),
                           require_form=RequireTotpForm(required=org.require_2fa), action_form=ActionForm(),
                           codes_left=services.recovery_codes_left), status


@bp.route("/admin/accounts/")
def members():
    _require_admin()
    return _members_page()


@bp.route("/admin/accounts/new", methods=["POST"])
def create_member():
    _require_admin()
    form = MemberForm()
    if form.validate_on_submit():
        # The association is always the admin's own: a posted org_id is never read.
        try:
            user = services.create_user(form.email.data, current_user.organisation, form.role.data,
                                        form.password.data, form.full_name.data, actor=current_user)
        except services.AccountError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            flash(f"Compte {user.email} créé. Transmettez-lui le mot de passe initial de vive voix ou par un canal sûr.",
                  "success")
            return redirect(url_for("auth.members"))
    return _members_page(422, form)


def _member_action(user_id: int, action) -> object:
    member = services.get_member_or_404(user_id, current_user)
    _require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        message = action(member)
    except services.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("auth.members"))


@bp.route("/admin/accounts/<int:user_id>/deactivate", methods=["POST"])
def deactivate_member(user_id: int):
    def act(member):
        services.set_active(member, False, current_user)
        return f"Compte {member.email} désactivé : ses sessions sont fermées."
    return _member_action(user_id, act)


@bp.route("/admin/accounts/<int:user_id>/reactivate", methods=["POST"])
def reactivate_member(user_id: int):
    def act(member):
        services.set_active(member, True, current_user)
        return f"Compte {member.email} réactivé."
    return _member_action(user_id, act)


@bp.route("/admin/accounts/<int:user_id>/reset-2fa", methods=["POST"])
def reset_member_totp(user_id: int):
    def act(member):
        services.reset_totp(member, current_user)
        return f"Double authentification de {member.email} réinitialisée : nouvel enrôlement à la prochaine connexion."
    return _member_action(user_id, act)


@bp.route("/admin/accounts/require-2fa", methods=["POST"])
def require_totp():
    _require_admin()
    form = RequireTotpForm()
    if not form.validate_on_submit():
        abort(400)
    services.set_require_2fa(current_user.organisation, bool(form.required.data), current_user)
    db.session.commit()
    flash("La double authentification est désormais exigée pour tous les membres." if form.required.data
          else "La double authentification n'est plus exigée (les membres enrôlés la gardent).", "success")
    return redirect(url_for("auth.members"))


@bp.route("/account/sessions/end-others", methods=["POST"])
def end_other_sessions():
    """« Déconnecter les autres sessions »: every other browser of this account is logged out."""
    if not ActionForm().validate_on_submit():
        abort(400)
    ended = sessions.revoke_all(current_user, keep=_row())
    audit.record("auth.sessions_ended", actor=current_user, obj=current_user, count=ended)
    db.session.commit()
    flash(f"{ended} autre(s) session(s) déconnectée(s)." if ended else "Aucune autre session n'était ouverte.",
          "success")
    return redirect(url_for("auth.account", _anchor="sessions"))


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        if _row() is not None:
            sessions.revoke(_row())  # the cookie, even copied, no longer opens anything
        audit.record("auth.logout", actor=current_user, obj=current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté·e.", "info")
    return redirect(url_for("auth.login"))
