"""Case list, case page, new/edit forms and timeline events."""

from __future__ import annotations

from datetime import date

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_login import current_user
from sqlalchemy import select

from app.audit import services as audit
from app.auth.models import User
from app.auth.permissions import can
from app.cases import services
from app.cases.forms import CaseForm, EventForm
from app.cases.deadlines import KIND_LABELS
from app.cases.services import CaseFilters, CaseInput, EventInput
from app.cases.taxonomy import Taxonomy
from app.core import departements
from app.core.clock import today as clock_today
from app.extensions import db
from app.legal.codes import OUTCOMES_BY_TYPE

bp = Blueprint("cases", __name__, url_prefix="/cases", template_folder="templates")


# Outcome code -> label, for the timeline (« Ordonnance rendue — Injonction prononcée »).
OUTCOME_LABELS = {code: label for labels in OUTCOMES_BY_TYPE.values() for code, label in labels.items()}


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
    if services.refresh_stale_urgencies(current_user.org_id):
        db.session.commit()  # before loading the page: a commit expires loaded objects
    page, per_page = _page(), current_app.config["CASES_PER_PAGE"]
    sort = "echeance" if request.args.get("sort") == "echeance" else "urgence"
    cases, total = services.list_cases(current_user.org_id, filters, page, per_page, sort=sort)
    args = {k: v for k, v in request.args.items() if k in SEARCH_PARAMETERS and v}
    return render_template("cases/list.html", cases=cases, total=total, page=page,
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

    primary = form.primary_blocage.data
    return CaseInput(
        prefecture=form.prefecture.data, demarche=form.demarche.data, status=form.status.data,
        blocages=[primary] + [c for c in (form.other_blocages.data or []) if c != primary],
        consequences=form.consequences.data or [],
        titre_demande=form.titre_demande.data or "", titre_actuel=form.titre_actuel.data or "",
        titre_expiry=form.titre_expiry.data, anef_number=form.anef_number.data or "",
        first_attempt=form.first_attempt.data, narrative=form.narrative.data or "",
        volunteer_id=member(form.volunteer_id.data), lawyer_id=member(form.lawyer_id.data),
        civility=form.civility.data or "", last_name=form.last_name.data or "",
        first_name=form.first_name.data or "", birth_date=form.birth_date.data,
        birth_place=form.birth_place.data or "", nationality=form.nationality.data or "",
        numero_etranger=(form.numero_etranger.data or "").strip(), phone=form.phone.data or "",
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
            target.errors = list(target.errors) + [message]
        else:
            flash(message, "error")


@bp.route("/new", methods=["GET", "POST"])
def new_case():
    require("cases.edit")
    taxonomy = Taxonomy(current_user.org_id)
    form = CaseForm()
    form.fill_choices(taxonomy, _members())
    if request.method == "GET":
        form.status.data = "OUVERT"
        form.volunteer_id.data = str(current_user.id)
    if form.validate_on_submit():
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
    if form.errors:
        flash("Le dossier n'a pas été enregistré : corrigez les champs signalés.", "error")
    return render_template("cases/form.html", form=form, case=None), 422 if form.errors else 200


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
                           sections=sections), status


def _redactor(case, show_identity: bool):
    """For roles without identity.view, free text loses the person's own names and numbers
    (the same masking as search excerpts); others see it as typed."""
    if show_identity or case.person is None:
        return lambda text: text
    from app.search.documents import Masker, values_of

    return Masker(values_of(case.person)).mask


@bp.route("/<int:case_id>/edit", methods=["GET", "POST"])
def edit_case(case_id: int):
    case = services.get_case_or_404(case_id, current_user, with_timeline=True)
    require("cases.edit")
    taxonomy = Taxonomy(case.org_id)
    form = CaseForm(obj=case.person) if request.method == "GET" else CaseForm()
    form.fill_choices(taxonomy, _members())
    if request.method == "GET":
        for name in services.CASE_FIELDS:
            getattr(form, name).data = getattr(case, name)
        form.volunteer_id.data = str(case.volunteer_id or "")
        form.lawyer_id.data = str(case.lawyer_id or "")
        form.primary_blocage.data = case.primary_blocage
        form.other_blocages.data = case.blocages[1:]
        form.consequences.data = case.consequences
        form.version.data = str(case.version)
    if form.validate_on_submit():
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
            return render_template("cases/form.html", form=form, case=case, stale=True), 409
        except services.CaseValidationError as exc:
            db.session.rollback()
            _show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash("Dossier enregistré." if changed else "Aucune modification.", "success")
            return redirect(url_for("cases.show_case", case_id=case.id))
    if form.errors:
        flash("Le dossier n'a pas été enregistré : corrigez les champs signalés.", "error")
    return render_template("cases/form.html", form=form, case=case), 422 if form.errors else 200


@bp.route("/<int:case_id>/events", methods=["POST"])
def add_event(case_id: int):
    case = services.get_case_or_404(case_id, current_user, with_timeline=True)
    require("cases.edit")
    form = _event_form(case)
    if form.validate_on_submit():
        try:
            services.add_event(case, EventInput(form.date.data, form.type.data,
                                                form.description.data or "", form.reference.data or "",
                                                outcome=form.outcome.data or ""),
                               current_user)
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
    # Re-render with what was typed, so nothing is lost.
    flash("L'événement n'a pas été enregistré : corrigez les champs signalés.", "error")
    case = services.get_case_or_404(case_id, current_user, with_timeline=True)
    return _render_case_page(case, form, 422)
