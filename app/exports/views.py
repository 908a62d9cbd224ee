"""Export routes (brief, exhibits zip, workbook, dossier, dashboard, the association's brief base)."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.auth.permissions import can
from app.cases.services import get_case_or_404
from app.cases.taxonomy import Taxonomy
from app.cases.views import parse_filters
from app.core import departements
from app.exports import services
from app.exports.charts import dashboard_charts
from app.exports.docx import format_value
from app.extensions import db
from app.jobs.services import filters_to_params, submit, threshold as job_threshold
from app.legal.requete import RouteRefused, UnknownRoute

bp = Blueprint("exports", __name__, template_folder="templates")

FILTER_KEYS = ("q", "prefecture", "code", "status", "demarche", "from", "to")


def require(capability: str) -> None:
    if not can(current_user, capability):
        abort(403)


def _send(export: services.ExportFile):
    return send_file(io.BytesIO(export.content), mimetype=export.mimetype, as_attachment=True,
                     download_name=export.filename, max_age=0)


def _query() -> str:
    return (request.args.get("q") or "").strip()[:200]


@bp.route("/cases/<int:case_id>/brief.docx")
def brief(case_id: int):
    case = get_case_or_404(case_id, current_user, with_timeline=True)
    require("exports.brief")
    try:
        export = services.export_brief(case, current_user.organisation, current_user,
                                       route=request.args.get("route", "")[:40])
    except RouteRefused as exc:
        db.session.rollback()
        status = 400 if isinstance(exc, UnknownRoute) else 409
        return render_template("exports/no_requete.html", case=case, message=str(exc)), status
    db.session.commit()
    return _send(export)


@bp.route("/cases/<int:case_id>/exhibits.zip")
def exhibits_zip(case_id: int):
    case = get_case_or_404(case_id, current_user)
    require("exports.brief")
    export = services.export_bundle(case, current_user.organisation, current_user)
    try:
        db.session.commit()
        handle = export.path.open("rb")
    finally:
        export.discard()  # the open handle keeps the bytes until the response is sent

    def chunks():
        with handle:  # closed when sent, or when the server drops the response
            while chunk := handle.read(256 * 1024):
                yield chunk

    response = Response(chunks(), mimetype=export.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{export.filename}"',  # ASCII by construction
        "Content-Length": str(export.size), "Cache-Control": "no-cache"})
    response.call_on_close(handle.close)  # also when the body was never read
    return response


@bp.route("/exports/cases.xlsx")
def workbook():
    filters, q = parse_filters(request.args), _query()
    identified = request.args.get("identified") == "1"
    if identified and not can(current_user, "exports.identified"):
        services.refuse_identified(current_user, current_user.org_id, filters, q)
        db.session.commit()
        abort(403)
    require("exports.anonymised")
    size = services.export_size(current_user.org_id, filters, q)
    if size > job_threshold():
        return _in_background("export.xlsx", size, filters=filters_to_params(filters), q=q, identified=identified,
                              anonymised=_anonymised())
    export = services.export_workbook(current_user.organisation, current_user, filters, q, identified=identified,
                                      anonymised=_anonymised())
    db.session.commit()
    return _send(export)


def _in_background(kind: str, size: int, **params):
    """A large export: queued as a job, the user sent to its progress page (303)."""
    job = submit(kind, current_user, total=size, **params)
    db.session.commit()
    return redirect(url_for("jobs.show", job_id=job.id), code=303)


def _anonymised() -> bool:
    """?anonymise=1: months only and small counts hidden (default: pseudonymised, exact dates)."""
    return request.args.get("anonymise") == "1"


@bp.route("/exports/dossier.docx")
def dossier():
    require("exports.anonymised")
    filters, q = parse_filters(request.args), _query()
    size = services.export_size(current_user.org_id, filters, q)
    if size > job_threshold():
        return _in_background("export.dossier", size, filters=filters_to_params(filters), q=q,
                              anonymised=_anonymised())
    export = services.export_dossier(current_user.organisation, current_user, parse_filters(request.args), _query(),
                                     anonymised=_anonymised())
    db.session.commit()
    return _send(export)


@bp.route("/dashboard")
def dashboard():
    require("dashboard.view")
    filters, q = parse_filters(request.args), _query()
    summary, _, scope = services.summary_for(current_user.org_id, filters, q)
    from app.core.clock import today
    from app.deadlines.services import counts_by_kind

    deadline_counts = counts_by_kind(current_user.org_id, today(), 90, viewer=current_user)
    args = {k: request.args.get(k) for k in FILTER_KEYS if request.args.get(k)}
    charts = dashboard_charts(summary)
    return render_template("exports/dashboard.html", summary=summary, charts=charts, filters=filters, q=q,
                           args=args, taxonomy=Taxonomy(current_user.org_id),
                           departements=departements.choices(),
                           has_template=services.template_path(current_user.organisation).is_file(),
                           zip=zip, fmt=format_value, deadline_counts=deadline_counts, scope=scope,
                           coalitions=_my_coalitions())


def _my_coalitions():
    """The coalitions whose pooled dashboard the user may open (links on the dashboard)."""
    from app.coalitions.services import coalitions_of

    return coalitions_of(current_user.org_id) if can(current_user, "coalitions.view") else []


@bp.route("/exports/template", methods=["POST"])
def upload_template():
    require("accounts.manage")
    upload = request.files.get("template")
    content = upload.read(services.MAX_TEMPLATE_BYTES + 1) if upload else b""
    try:
        services.save_template(current_user.organisation, content, current_user)
    except services.TemplateRefused as exc:
        db.session.rollback()
        flash(f"Modèle refusé : {exc}", "error")
        return redirect(url_for("exports.dashboard", _anchor="modele"))
    db.session.commit()
    flash("Modèle enregistré : les prochains mémoires l'utiliseront.", "success")
    return redirect(url_for("exports.dashboard", _anchor="modele"))


@bp.route("/exports/template/delete", methods=["POST"])
def delete_template():
    require("accounts.manage")
    removed = services.remove_template(current_user.organisation, current_user)
    db.session.commit()
    flash("Modèle supprimé : les mémoires reprennent la mise en page par défaut." if removed
          else "Aucun modèle à supprimer.", "success")
    return redirect(url_for("exports.dashboard", _anchor="modele"))
