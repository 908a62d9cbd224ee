"""The « Voie de droit » panel of the case page, the letters drafted from the case and the
record of a letter sent (the requête itself is an export: app/exports)."""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup

from app.auth.permissions import can
from app.cases.services import get_case_or_404
from app.extensions import db
from app.legal import services
from app.legal.codes import ROUTE_SHORT, ROUTES
from app.legal.forms import LetterSentForm
from app.legal.letters import KINDS, LetterRefused
from app.legal.services import routing_for

bp = Blueprint("legal", __name__, template_folder="templates")


def require(capability: str) -> None:
    if not can(current_user, capability):
        abort(403)


@bp.route("/cases/<int:case_id>/letters/<kind>.docx")
def letter(case_id: int, kind: str):
    case = get_case_or_404(case_id, current_user, with_timeline=True)
    if not can(current_user, "letters.draft"):
        # A letter carries the person's identity: a refused attempt leaves a trace.
        from app.audit import services as audit

        audit.record("export.refused", actor=current_user, obj=case, org_id=case.org_id, kind="letter")
        db.session.commit()
        abort(403)
    if kind not in KINDS:
        abort(404)
    try:
        export = services.export_letter(case, current_user.organisation, current_user, kind)
    except LetterRefused as exc:
        db.session.rollback()
        return render_template("exports/no_requete.html", case=case, message=str(exc),
                               title="Pas de lettre pour ce dossier"), 409
    db.session.commit()
    return send_file(io.BytesIO(export.content), mimetype=export.mimetype, as_attachment=True,
                     download_name=export.filename, max_age=0)


@bp.route("/cases/<int:case_id>/letters/sent", methods=["POST"])
def letter_sent(case_id: int):
    case = get_case_or_404(case_id, current_user, with_timeline=True)
    require("cases.edit")
    form = LetterSentForm()
    upload = request.files.get("file")
    has_file = bool(upload and upload.filename)
    if form.validate_on_submit():
        try:
            event = services.record_sent_letter(case, form.kind.data, form.sent_on.data, form.lrar.data or "",
                                                current_user, upload=upload.stream if has_file else None,
                                                filename=upload.filename if has_file else None)
        except services.SendingRefused as exc:
            db.session.rollback()
            for message in exc.errors.values():
                flash(f"Envoi non enregistré : {message}", "error")
        else:
            db.session.commit()
            flash(f"Envoi du {event.date.strftime('%d/%m/%Y')} ajouté à la chronologie"
                  + (f" (n° {event.reference})" if event.reference else "") + ".", "success")
            return redirect(url_for("cases.show_case", case_id=case.id, _anchor="chronologie"))
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(f"Envoi non enregistré : {message}", "error")
    return redirect(url_for("cases.show_case", case_id=case.id, _anchor="courriers"))


def route_panel(case) -> str:
    """HTML of the panel, or "" for roles that do not act on cases (coordinators)."""
    if not can(current_user, "legal.route"):
        return ""
    return Markup(render_template(  # noqa: S704 - rendered by Jinja with autoescape
        "legal/panel.html", case=case, routing=routing_for(case), routes=ROUTES,
        short=ROUTE_SHORT, sent_form=LetterSentForm(formdata=None)))
