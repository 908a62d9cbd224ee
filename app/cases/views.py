"""Case list, case page, new/edit forms and timeline events."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user
from sqlalchemy import select

from app.audit import services as audit
from app.auth.models import User
from app.auth.permissions import can
from app.cases import services
from app.cases.forms import CaseForm, EventForm, normalise_phone
from app.cases.models import Case
from app.cases.deadlines import KIND_LABELS
from app.cases.services import CaseFilters, CaseInput, EventInput
from app.cases.taxonomy import Taxonomy
from app.core import departements
from app.core.clock import today as clock_today
from app.core.clock import utcnow
from app.extensions import db
from app.jobs import services as jobs
from app.cases import uploads
from app.cases.uploads import import_dir
from app.legal.codes import OUTCOMES_BY_TYPE

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")
# The UI shows times where the associations are; the database keeps UTC.
PARIS = ZoneInfo("Europe/Paris")


# Outcome code -> label, for the timeline (« Ordonnance rendue — Injonction prononcée »).
OUTCOME_LABELS = {code: label for labels in OUTCOMES_BY_TYPE.values() for code, label in labels.items()}


@bp.app_context_processor
def _session_helpers():
    return {"session_idle_seconds": session_idle_seconds, "case_references": case_references}


def case_references(rows) -> dict[int, str]:
    """{case id: reference} for the journal's records (object or detail case_id), in the
    member's association only: the journal shows references, not database ids."""
    ids = set()
    for row in rows:
        record = row[0] if isinstance(row, tuple) or hasattr(row, "_fields") else row
        if record.object_type == "case" and str(record.object_id).isdigit():
            ids.add(int(record.object_id))
        try:
            detail = json.loads(record.detail or "{}")
        except ValueError:
            continue
        if isinstance(detail, dict) and isinstance(detail.get("case_id"), int):
            ids.add(detail["case_id"])
    if not ids:
        return {}
    return dict(db.session.execute(select(Case.id, Case.reference).where(
        Case.id.in_(ids), Case.org_id == current_user.org_id)).all())


def session_idle_seconds() -> int:
    """Seconds left before the idle limit of app/core/security.py logs this session out."""
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    row = g.get("user_session")  # the server-side session row (app/auth/sessions.py)
    if row is not None:
        seen = row.last_seen_at
    elif session.get("seen_at"):  # cookie-only sessions
        seen = datetime.fromisoformat(session["seen_at"])
    else:
        return 0
    return max(0, int((idle - (utcnow() - seen)).total_seconds()))


@bp.app_template_filter("datetime_local")
def datetime_local(value: datetime | None) -> str:
    """A stored naive-UTC datetime shown in Paris time: « 03/12/2026 14:05 »."""
    if not value:
        return ""
    return value.replace(tzinfo=UTC).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def require(capability: str) -> None:
    if not can(current_user, capability):
        abort(403)


SEARCH_PARAMETERS = ("q", "prefecture", "code", "status", "demarche", "from", "to", "sort")


def parse_filters(args) -> CaseFilters:
    """The search parameters (contract): prefecture, code, status, demarche, from, to."""
    def parse_date(name):
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    return CaseFilters(
        status=args.get("status", "")[:32], prefecture=departements.resolve(args.get("prefecture")) or "",
        code=args.get("code", "")[:32], demarche=args.get("demarche", "")[:32],
        date_from=parse_date("from"), date_to=parse_date("to"),
    )


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 100_000))
    except ValueError:
        return 1


@bp.route("/")
def list_cases():
    if request.args.get("q"):
        kept = {k: v for k, v in request.args.items() if k in SEARCH_PARAMETERS}
        return redirect(url_for("search.search", **kept))
    filters = parse_filters(request.args)
    # Before loading the page (a commit expires loaded objects); at most PAGE_REFRESH_SECONDS.
    pending = services.refresh_for_page(current_user.org_id)
    page, per_page = _page(), current_app.config["CASES_PER_PAGE"]
    sort = "echeance" if request.args.get("sort") == "echeance" else "urgence"
    cases, total = services.list_cases(current_user.org_id, filters, page, per_page, sort=sort)
    args = {k: v for k, v in request.args.items() if k in SEARCH_PARAMETERS and v}
    return render_template("cases/list.html", cases=cases, total=total, page=page, pending=pending,
                           pages=max(1, -(-total // per_page)), filters=filters, args=args, sort=sort,
                           taxonomy=Taxonomy(current_user.org_id),
                           departements=departements.choices(), kind_labels=KIND_LABELS,
                           today=clock_today(), show_identity=can(current_user, "identity.view"))


def _members():
    return db.session.scalars(select(User).where(User.org_id == current_user.org_id, User.active)
                              .order_by(User.full_name, User.email)).all()


def _form_to_input(form: CaseForm) -> CaseInput:
    member_ids = {str(u.id) for u in _members()}

    def member(value):
        return int(value) if value and value in member_ids else None

    # A refused form is checked by the service too (one submit, every error): fields may be None.
    primary = form.primary_blocage.data or ""
    return CaseInput(
        prefecture=form.prefecture.data or "", demarche=form.demarche.data or "", status=form.status.data or "",
        blocages=[c for c in [primary] + [c for c in (form.other_blocages.data or []) if c != primary] if c],
        consequences=form.consequences.data or [],
        titre_demande=form.titre_demande.data or "", titre_actuel=form.titre_actuel.data or "",
        titre_expiry=form.titre_expiry.data, anef_number=form.anef_number.data or "",
        first_attempt=form.first_attempt.data, narrative=form.narrative.data or "",
        volunteer_id=member(form.volunteer_id.data), lawyer_id=member(form.lawyer_id.data),
        civility=form.civility.data or "", last_name=form.last_name.data or "",
        first_name=form.first_name.data or "", birth_date=form.birth_date.data,
        birth_place=form.birth_place.data or "", nationality=form.nationality.data or "",
        numero_etranger=(form.numero_etranger.data or "").strip(), phone=normalise_phone(form.phone.data or ""),
        email=form.email.data or "", address=form.address.data or "", language=form.language.data or "",
        consent_date=form.consent_date.data, consent_collected_by=form.consent_collected_by.data or "",
        consent_followup=form.consent_followup.data, consent_litigation=form.consent_litigation.data,
        consent_statistics=form.consent_statistics.data,
    )


def _show_errors(form: CaseForm, errors: dict[str, str]) -> None:
    aliases = {"blocages": "primary_blocage"}
    for name, message in errors.items():
        target = getattr(form, aliases.get(name, name), None)
        if target is not None:
            if message not in target.errors:
                target.errors = list(target.errors) + [message]
        else:
            flash(message, "error")


def _validate_case_form(form: CaseForm, taxonomy: Taxonomy) -> bool:
    """The form's checks and the service's domain checks together, so the first submit shows
    every error (a future date or a bad e-mail no longer waits for the format errors to go)."""
    valid = form.validate_on_submit()
    if not form.is_submitted():
        return False
    errors = services.validate_input(_form_to_input(form), taxonomy, clock_today())
    aliases = {"blocages": "primary_blocage"}
    # One message per field: a field the form already refused keeps its own, more precise one.
    _show_errors(form, {name: message for name, message in errors.items()
                        if not getattr(form, aliases.get(name, name), None) or
                        not getattr(form, aliases.get(name, name)).errors})
    return valid and not errors


@bp.route("/new", methods=["GET", "POST"])
def new_case():
    require("cases.edit")
    taxonomy = Taxonomy(current_user.org_id)
    form = CaseForm()
    form.fill_choices(taxonomy, _members())
    if request.method == "GET":
        form.status.data = "OUVERT"
        form.volunteer_id.data = str(current_user.id)
    if _validate_case_form(form, taxonomy):
        try:
            case = services.create_case(current_user.organisation, _form_to_input(form), current_user,
                                        taxonomy=taxonomy)
        except services.CaseValidationError as exc:
            db.session.rollback()
            _show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(f"Dossier {case.reference} créé.", "success")
            return redirect(url_for("cases.show_case", case_id=case.id))
    # The error summary at the top of the form names every field (no flash: it would say less).
    return render_template("cases/form.html", form=form, case=None, taxonomy=taxonomy), 422 if form.errors else 200


@bp.route("/<int:case_id>")
def show_case(case_id: int):
    case = services.get_case_or_404(case_id, current_user, with_timeline=True)
    audit.record("case.view", actor=current_user, obj=case)
    db.session.commit()
    return _render_case_page(case, _event_form(case))


def _event_form(case) -> EventForm:
    form = EventForm()
    form.type.choices = [("", "— Choisir —")] + Taxonomy(case.org_id).choices("evenement")
    return form


def _render_case_page(case, event_form: EventForm, status: int = 200):
    """The case page; other domains (exhibits…) add sections through `case_sections`."""
    sections = [render(case) for render in current_app.extensions.get("case_sections", [])]
    show_identity = can(current_user, "identity.view")
    from app.legal.views import route_panel

    return render_template("cases/show.html", case=case, taxonomy=Taxonomy(case.org_id),
                           route_panel=route_panel(case), outcome_labels=OUTCOME_LABELS,
                           dates=services.compute_dates(case), event_form=event_form,
                           show_identity=show_identity, redact=_redactor(case, show_identity),
                           departement=departements.get(case.prefecture),
                           event_exhibits=_exhibits_by_event(case), sections=sections), status


def _exhibits_by_event(case) -> dict[int, list]:
    """The pièces attached to each event, for the timeline (withdrawn ones left out)."""
    from app.evidence.models import Exhibit

    grouped: dict[int, list] = {}
    for exhibit in db.session.scalars(select(Exhibit).where(
            Exhibit.case_id == case.id, Exhibit.event_id.is_not(None), Exhibit.withdrawn_at.is_(None))
            .order_by(Exhibit.number)):
        grouped.setdefault(exhibit.event_id, []).append(exhibit)
    return grouped


def _redactor(case, show_identity: bool):
    """For roles without identity.view, free text and references lose every identity
    (app/privacy/masking.py, the same masking as search); others see them as typed."""
    from app.privacy.masking import redactor

    return redactor(case, show_identity)


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
def edit_case(case_id: int):
    case = services.get_case_or_404(case_id, current_user, with_timeline=True)
    require("cases.edit")
    taxonomy = Taxonomy(case.org_id)
    form = CaseForm(obj=case.person) if request.method == "GET" else CaseForm()
    form.fill_choices(taxonomy, _members(), current_lawyer_id=case.lawyer_id)
    if request.method == "GET":
        for name in services.CASE_FIELDS:
            getattr(form, name).data = getattr(case, name)
        form.volunteer_id.data = str(case.volunteer_id or "")
        form.lawyer_id.data = str(case.lawyer_id or "")
        form.primary_blocage.data = case.primary_blocage
        form.other_blocages.data = case.blocages[1:]
        form.consequences.data = case.consequences
        form.version.data = str(case.version)
    if _validate_case_form(form, taxonomy):
        try:
            expected = int(form.version.data) if (form.version.data or "").isdigit() else None
            changed = services.update_case(case, _form_to_input(form), current_user,
                                           expected_version=expected)
        except services.StaleCaseError:
            db.session.rollback()
            flash("Ce dossier a été modifié par quelqu'un d'autre depuis l'ouverture du formulaire. "
                  "Vos saisies sont conservées ci-dessous : vérifiez la version actuelle du dossier "
                  "puis enregistrez à nouveau.", "error")
            form.version.data = str(db.session.get(type(case), case.id).version)
            return render_template("cases/form.html", form=form, case=case, stale=True, taxonomy=taxonomy), 409
        except services.CaseValidationError as exc:
            db.session.rollback()
            _show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash("Dossier enregistré." if changed else "Aucune modification.", "success")
            return redirect(url_for("cases.show_case", case_id=case.id))
    return render_template("cases/form.html", form=form, case=case, taxonomy=taxonomy), 422 if form.errors else 200


@bp.route("/<int:case_id>/events", methods=["GET", "POST"])
def add_event(case_id: int):
    case = services.get_case_or_404(case_id, current_user, with_timeline=True)
    require("cases.edit")
    if request.method == "GET":
        # After a re-login (the session expired on submit), `next` brings the member here: back to
        # the form, where the browser restores what was typed.
        return redirect(url_for("cases.show_case", case_id=case.id, _anchor="ajout-evenement"))
    form = _event_form(case)
    valid = form.validate_on_submit()
    data = EventInput(form.date.data, form.type.data or "", form.description.data or "",
                      form.reference.data or "", outcome=form.outcome.data or "")
    # Domain checks now too, so one submit shows every error.
    for name, message in services.validate_event(data, Taxonomy(case.org_id), clock_today()).items():
        field = getattr(form, name, None)
        if field is not None and not field.errors:
            field.errors = list(field.errors) + [message]
            valid = False
    if valid:
        try:
            services.add_event(case, data, current_user)
        except services.CaseValidationError as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                field = getattr(form, name, None)
                if field is not None:
                    field.errors = list(field.errors) + [message]
        else:
            db.session.commit()
            flash("Événement ajouté à la chronologie.", "success")
            return redirect(url_for("cases.show_case", case_id=case.id, _anchor="chronologie"))
    # Re-render with what was typed, so nothing is lost; the error summary at the top of the page
    # names each field and links to it.
    case = services.get_case_or_404(case_id, current_user, with_timeline=True)
    return _render_case_page(case, form, 422)


@bp.route("/session/keepalive", methods=["POST"])
def keepalive():
    """« Rester connecté » in the idle warning: the click is activity, so the idle clock restarts
    (the before_request hook only records activity once a minute)."""
    row = g.get("user_session")
    if row is not None:
        row.last_seen_at = utcnow()
        db.session.commit()
    elif "seen_at" in session:
        session["seen_at"] = utcnow().isoformat()
    return jsonify(authenticated=True, idle_seconds=session_idle_seconds())


# --- web import (coordinators and admins): upload, preview, confirm; all or nothing ---------------

# Coordinators and admins: the capability that names exactly them today (see the report to the lead:
# a dedicated "cases.import" capability belongs in app/auth/permissions.py).
IMPORT_CAPABILITY = "exports.history"
def _pending_upload():
    """(path, display name, previewed case count) of the file this member uploaded for preview,
    if it is still there."""
    pending = session.get("import_upload")
    if not isinstance(pending, dict) or not re.fullmatch(r"[A-Za-z0-9_-]{20,64}\.(xlsx|csv)", str(pending.get("file", ""))):
        return None, None, 0
    path = import_dir() / pending["file"]
    if not path.is_file():
        return None, None, 0
    return path, pending.get("name", path.name), int(pending.get("cases") or 0)


@bp.route("/import", methods=["GET", "POST"])
def import_cases():
    require(IMPORT_CAPABILITY)
    from app.cases.importer import ImportRefused, import_file

    org, limit = current_user.organisation, current_app.config["MAX_IMPORT_BYTES"]
    taxonomy = Taxonomy(current_user.org_id)
    context = {"taxonomy": taxonomy, "departements": dict(departements.choices()), "max_mb": max(1, limit // (1024 * 1024))}
    if request.method == "GET":
        return render_template("cases/import.html", **context)
    if request.form.get("action") == "confirm":
        path, name, previewed = _pending_upload()
        if path is None:
            flash("Le fichier à importer n'est plus disponible (plus d'une heure, ou déjà importé) : envoyez-le à nouveau.", "error")
            return redirect(url_for("cases.import_cases"))
        if previewed > jobs.threshold():
            # Too long for one request: a background job, with its progress page. The file moves
            # to the job's own name in IMPORT_DIR (every server and worker reaches it) before the
            # job is committed: a second confirmation finds nothing left to import.
            job = jobs.submit("import.cases", current_user, total=previewed, suffix=path.suffix.lower())
            session.pop("import_upload", None)
            if not uploads.hand_to_job(path, job.id):
                db.session.rollback()
                flash("Le fichier à importer n'est plus disponible (déjà importé ?) : envoyez-le à nouveau.", "error")
                return redirect(url_for("cases.import_cases"))
            db.session.commit()
            return redirect(url_for("jobs.show", job_id=job.id), 303)
        try:
            # Everything is checked again: the association may have changed since the preview.
            report = import_file(path, org, current_user, max_bytes=limit)
        except ImportRefused as exc:
            db.session.rollback()
            return render_template("cases/import.html", problems=exc.report.problems, name=name, **context), 422
        db.session.commit()
        path.unlink(missing_ok=True)
        session.pop("import_upload", None)
        flash(f"{report.cases} dossier(s) et {report.events} événement(s) importés depuis « {name} ».", "success")
        return redirect(url_for("cases.list_cases"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("cases/import.html", missing_file=True, **context), 422
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:120]
    suffix = Path(name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        return render_template("cases/import.html", name=name, problems=[
            "Format non pris en charge : fournissez un classeur .xlsx (feuilles « Cas » et « Chronologie ») ou un fichier .csv."],
            **context), 422
    folder = import_dir()
    uploads.forget_old_uploads()
    old, _, _ = _pending_upload()
    if old is not None:
        old.unlink(missing_ok=True)
    path = folder / f"{secrets.token_urlsafe(24)}{suffix}"
    data = upload.stream.read(limit + 1)
    path.write_bytes(data)
    try:
        report = import_file(path, org, current_user, dry_run=True, max_bytes=limit)
    except ImportRefused as exc:
        db.session.rollback()
        path.unlink(missing_ok=True)
        session.pop("import_upload", None)
        return render_template("cases/import.html", problems=exc.report.problems, name=name, **context), 422
    db.session.rollback()
    session["import_upload"] = {"file": path.name, "name": name, "cases": report.cases}
    return render_template("cases/import.html", report=report, name=name, background=report.cases > jobs.threshold(),
                           **context)
