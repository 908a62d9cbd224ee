"""Privacy routes: consent withdrawal, legal hold, person's export, erasure, notice, retention."""

from __future__ import annotations

import io

from flask import (Blueprint, abort, flash, redirect, render_template, request,
                   send_file, url_for)
from flask_login import current_user
from markupsafe import Markup

from app.auth.permissions import can
from app.cases.services import get_case_or_404
from app.extensions import db
from app.privacy import services
from app.privacy.forms import ErasureForm, LegalHoldForm, RetentionForm, WithdrawalForm

bp = Blueprint("privacy", __name__, template_folder="templates")


def init_app(app) -> None:
    app.extensions.setdefault("case_sections", []).append(case_section)


def require(capability: str) -> None:
    if not can(current_user, capability):
        abort(403)


def case_section(case) -> Markup:
    """The "Données personnelles" section of the case page."""
    # No date filled in: the date of a withdrawal is chosen, never assumed to be today.
    withdrawal = WithdrawalForm()
    # render_template autoescapes: the Markup only stops the case page escaping it twice.
    return Markup(render_template(  # noqa: S704
        "privacy/case_section.html", case=case, withdrawal=withdrawal, hold_form=LegalHoldForm(),
        erasure=ErasureForm(), show_identity=can(current_user, "identity.view"),
        can_undo_withdrawal=can(current_user, "privacy.erase") and services.can_undo_withdrawal(case)))


def _back(case_id: int):
    return redirect(url_for("cases.show_case", case_id=case_id, _anchor="donnees-personnelles"))


@bp.route("/cases/<int:case_id>/consent/withdraw", methods=["POST"])
def withdraw_consent(case_id: int):
    case = get_case_or_404(case_id, current_user, with_timeline=True)
    require("cases.edit")
    form = WithdrawalForm()
    if not form.validate_on_submit():
        flash(" ".join(form.withdrawn_on.errors) or "Formulaire invalide.", "error")
        return _back(case.id)
    # The effects are named next to this box: ticking it is the confirmation.
    if request.form.get("confirm") != "1":
        flash("Retrait non enregistré : cochez la case qui confirme la demande de la personne.", "error")
        return _back(case.id)
    try:
        services.withdraw_consent(case, form.withdrawn_on.data, current_user)
    except services.PrivacyError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(case.id)
    db.session.commit()
    flash("Retrait du consentement enregistré. Si la personne demande l'effacement de ses données, "
          "un·e administrateur·rice peut le faire depuis cette page.", "success")
    return _back(case.id)


@bp.route("/cases/<int:case_id>/consent/undo", methods=["POST"])
def undo_withdrawal(case_id: int):
    """An admin cancels a withdrawal recorded by mistake, within a day."""
    case = get_case_or_404(case_id, current_user)
    require("privacy.erase")
    try:
        services.undo_withdrawal(case, current_user)
    except services.PrivacyError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(case.id)
    db.session.commit()
    flash("Retrait du consentement annulé : le consentement recueilli s'applique de nouveau.", "success")
    return _back(case.id)


@bp.route("/cases/<int:case_id>/legal-hold", methods=["POST"])
def legal_hold(case_id: int):
    case = get_case_or_404(case_id, current_user)
    require("privacy.legal_hold")
    form = LegalHoldForm()
    if not form.validate_on_submit() or form.hold.data not in ("0", "1"):
        abort(400)
    hold = form.hold.data == "1"
    services.set_legal_hold(case, hold, current_user)
    db.session.commit()
    flash("Dossier placé sous conservation pour procédure : il ne sera ni effacé ni anonymisé."
          if hold else "Conservation pour procédure levée.", "success")
    return _back(case.id)


@bp.route("/cases/<int:case_id>/person-export.zip")
def person_export(case_id: int):
    case = get_case_or_404(case_id, current_user, with_timeline=True)
    require("identity.view")
    data, _digest = services.person_export(case, current_user)
    db.session.commit()
    return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                     download_name=f"donnees-personnelles-{case.reference}.zip")


@bp.route("/cases/<int:case_id>/erase", methods=["POST"])
def erase(case_id: int):
    case = get_case_or_404(case_id, current_user, with_timeline=True)
    require("privacy.erase")
    form = ErasureForm()
    if not form.validate_on_submit() or (form.confirm.data or "").strip() != case.reference:
        flash("Effacement non effectué : saisissez exactement la référence du dossier pour confirmer.", "error")
        return _back(case.id)
    try:
        result = services.erase_person(case, current_user)
    except services.PrivacyError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back(case.id)
    db.session.commit()
    # Files go only once the rows saying they are withdrawn are committed.
    services.purge_files(result.files_to_purge)
    flash("Données personnelles effacées. Le dossier reste, sans identité ni récit, pour les statistiques.",
          "success")
    return _back(case.id)


@bp.route("/notice")
def notice():
    """The information notice given to the person (French and English), printable."""
    org = current_user.organisation if current_user.is_authenticated else None
    days = org.retention_days if org is not None else 730
    years = round(days / 365, 1)
    years_en = f"{years:g} year{'s' if years != 1 else ''}"
    years_fr = f"{years:g}".replace(".", ",") + f" an{'s' if years >= 2 else ''}"
    return render_template("privacy/notice.html", org=org, retention_days=days, years_fr=years_fr,
                           years_en=years_en)


@bp.route("/privacy/settings", methods=["GET", "POST"])
def settings():
    require("privacy.settings")
    org = current_user.organisation
    form = RetentionForm()
    if request.method == "GET":
        form.retention_days.data = org.retention_days
    if form.validate_on_submit():
        try:
            changed = services.set_retention_days(org, form.retention_days.data, current_user)
        except services.PrivacyError as exc:
            db.session.rollback()
            form.retention_days.errors = [str(exc)]
        else:
            db.session.commit()
            flash("Durée de conservation enregistrée." if changed else "Aucune modification.", "success")
            return redirect(url_for("privacy.settings"))
    plan = services.plan_retention(org)
    return render_template("privacy/settings.html", form=form, org=org, plan=plan,
                           min_days=services.RETENTION_MIN_DAYS, max_days=services.RETENTION_MAX_DAYS), 422 if form.errors else 200
