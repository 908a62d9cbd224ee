"""What the case register does: create and update cases, add events, compute dates, list.

Services take plain data and an explicit actor, flush, and leave the commit to the caller
(the request or the CLI command), so one transaction covers a whole change.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

from flask import abort, current_app
from sqlalchemy import and_, bindparam, delete, func, insert, select
from sqlalchemy.orm import defer, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.audit import services as audit
from app.cases import deadlines
from app.cases.models import Case, CaseCode, Event, Person
from app.cases.taxonomy import Taxonomy
from app.core import departements
from app.core.clock import today as clock_today
from app.deadlines.models import CaseDeadline
from app.extensions import db
from app.legal.codes import outcome_error
from app.search.models import IndexOutbox

NUMERO_ETRANGER = re.compile(r"^\d{9,10}$")
FUTURE_ALLOWED_EVENTS = frozenset({"CONVOC", "AUDIENCE"})
EARLIEST = date(1900, 1, 1)
# 32,000: an Excel cell holds 32,767 characters, and the identified export must round-trip.
TEXT_LIMITS = {"narrative": 32_000, "description": 10_000}
SHORT_LIMIT = 200

# Optional: the requête is written so that none is needed (« M. », « Mme » or nothing).
CIVILITIES = ("", "M.", "Mme")
PERSON_FIELDS = ("civility", "last_name", "first_name", "birth_date", "birth_place", "nationality",
                 "numero_etranger", "phone", "email", "address", "language", "consent_date",
                 "consent_collected_by", "consent_followup", "consent_litigation", "consent_statistics")
CASE_FIELDS = ("prefecture", "demarche", "titre_demande", "titre_actuel", "titre_expiry",
               "anef_number", "status", "first_attempt", "narrative", "volunteer_id", "lawyer_id")


class CaseValidationError(ValueError):
    """Field-level French errors: {field name: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k} : {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class CaseInput:
    """Everything a form or an import row may set on a case and its person."""

    prefecture: str = ""
    demarche: str = ""
    status: str = "OUVERT"
    blocages: list[str] = field(default_factory=list)  # first is primary
    consequences: list[str] = field(default_factory=list)
    titre_demande: str = ""
    titre_actuel: str = ""
    titre_expiry: date | None = None
    anef_number: str = ""
    first_attempt: date | None = None
    narrative: str = ""
    volunteer_id: int | None = None
    lawyer_id: int | None = None
    reference: str = ""
    # person
    civility: str = ""
    last_name: str = ""
    first_name: str = ""
    birth_date: date | None = None
    birth_place: str = ""
    nationality: str = ""
    numero_etranger: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    language: str = ""
    consent_date: date | None = None
    consent_collected_by: str = ""
    consent_followup: bool = False
    consent_litigation: bool = False
    consent_statistics: bool = False

    def has_person(self) -> bool:
        return any(getattr(self, f) for f in PERSON_FIELDS)


def clean_text(value: str | None) -> str:
    """Strip control characters that XML (Word, Excel) cannot hold; keep newlines and tabs."""
    if not value:
        return ""
    return "".join(c for c in str(value) if c in "\n\t" or (ord(c) >= 32 and ord(c) != 127)).strip()


def validate_input(data: CaseInput, taxonomy: Taxonomy, today: date) -> dict[str, str]:
    """Domain checks shared by the web form and the importer. Returns {field: French message}."""
    errors: dict[str, str] = {}
    if not departements.resolve(data.prefecture):
        errors["prefecture"] = "Préfecture inconnue : indiquez un code de département (69, 2A, 974) ou son nom."
    if not data.demarche:
        errors["demarche"] = "La démarche est obligatoire."
    elif data.demarche not in taxonomy.labels("demarche"):
        errors["demarche"] = f"Démarche inconnue : « {data.demarche[:40]} »."
    if not data.status:
        errors["status"] = "Le statut est obligatoire."
    elif data.status not in taxonomy.labels("statut"):
        errors["status"] = f"Statut inconnu : « {data.status[:40]} »."
    if not data.blocages:
        errors["blocages"] = "Indiquez au moins un blocage."
    else:
        unknown = [c for c in data.blocages if c not in taxonomy.labels("blocage")]
        if unknown:
            errors["blocages"] = f"Blocage inconnu : « {unknown[0][:40]} »."
    unknown = [c for c in data.consequences if c not in taxonomy.labels("consequence")]
    if unknown:
        errors["consequences"] = f"Conséquence inconnue : « {unknown[0][:40]} »."
    if data.civility not in CIVILITIES:
        errors["civility"] = "Civilité inconnue : laissez vide ou choisissez « M. » ou « Mme »."
    if data.numero_etranger and not NUMERO_ETRANGER.match(data.numero_etranger):
        errors["numero_etranger"] = "Le numéro étranger compte 10 chiffres (9 pour certains anciens numéros)."
    for name in ("birth_date", "first_attempt", "consent_date"):
        value = getattr(data, name)
        if value is not None and value > today:
            errors[name] = "Cette date ne peut pas être dans le futur."
        elif value is not None and value < EARLIEST:
            errors[name] = "Date invalide."
    if data.birth_date and data.birth_date > today - timedelta(days=1):
        errors.setdefault("birth_date", "Date de naissance invalide.")
    if data.titre_expiry and not (EARLIEST < data.titre_expiry < date(2100, 1, 1)):
        errors["titre_expiry"] = "Date d'expiration invalide."
    if data.email and ("@" not in data.email or len(data.email) > 254 or " " in data.email):
        errors["email"] = "Adresse électronique invalide."
    for f in fields(CaseInput):
        value = getattr(data, f.name)
        if isinstance(value, str):
            limit = TEXT_LIMITS.get(f.name, SHORT_LIMIT if f.name != "address" else 1000)
            if len(value) > limit:
                errors[f.name] = f"Ce champ est limité à {limit} caractères ({len(value)} saisis)."
    return errors


def _apply(case: Case, data: CaseInput) -> list[str]:
    """Copy input onto the case and its person; return the names of changed fields."""
    changed = []
    data.prefecture = departements.resolve(data.prefecture) or data.prefecture
    for name in CASE_FIELDS:
        value = getattr(data, name)
        value = clean_text(value) if isinstance(value, str) else value
        if getattr(case, name) != value:
            setattr(case, name, value)
            changed.append(name)
    if data.has_person() or case.person is not None:
        if case.person is None:
            case.person = Person(org_id=case.org_id)
        for name in PERSON_FIELDS:
            value = getattr(data, name)
            value = clean_text(value) if isinstance(value, str) else value
            if getattr(case.person, name) != value:
                setattr(case.person, name, value)
                changed.append(f"person.{name}")
    for kind, codes in (("blocage", data.blocages), ("consequence", data.consequences)):
        ordered = list(dict.fromkeys(codes))
        if case.codes_of(kind) != ordered:
            _replace_codes(case, kind, ordered)
            changed.append(kind)
    return changed


def _replace_codes(case: Case, kind: str, ordered: list[str]) -> None:
    """Reuse existing rows (the unique (case, kind, code) constraint forbids delete+insert
    of the same code in one flush), renumber them, drop the rest, add the new ones."""
    existing = {c.code: c for c in case.codes if c.kind == kind}
    for position, code in enumerate(ordered):
        row = existing.pop(code, None)
        if row is None:
            case.codes.append(CaseCode(kind=kind, code=code, position=position))
        else:
            row.position = position
    for row in existing.values():
        case.codes.remove(row)


def next_reference(org, year: int) -> str:
    """Next free reference of the association for the year, e.g. LYO-2025-0042."""
    prefix = f"{org.ref_prefix}-{year}-"
    last = db.session.scalar(
        select(func.max(Case.reference)).where(Case.org_id == org.id, Case.reference.like(prefix + "%"),
                                               func.length(Case.reference) == len(prefix) + 4)
    )
    number = int(last[len(prefix):]) + 1 if last and last[len(prefix):].isdigit() else 1
    return f"{prefix}{number:04d}"


def create_case(org, data: CaseInput, actor, *, today: date | None = None,
                taxonomy: Taxonomy | None = None, opened_on: date | None = None) -> Case:
    """Validate and create a case (and its person). Raises CaseValidationError."""
    today = today or clock_today()
    taxonomy = taxonomy or Taxonomy(org.id)
    errors = validate_input(data, taxonomy, today)
    if data.reference:
        ref = clean_text(data.reference)
        if len(ref) > 32:
            errors["reference"] = "La référence est limitée à 32 caractères."
        elif db.session.scalar(select(Case.id).where(Case.org_id == org.id, Case.reference == ref)):
            errors["reference"] = f"La référence « {ref} » existe déjà dans l'association."
    if errors:
        raise CaseValidationError(errors)
    opened = opened_on or today
    case = Case(org_id=org.id, reference=clean_text(data.reference) or next_reference(org, opened.year),
                opened_on=opened)
    _apply(case, data)
    db.session.add(case)
    db.session.flush()
    refresh_urgency(case, today)
    enqueue_index(case.id)
    audit.record("case.create", actor=actor, obj=case, org_id=org.id)
    return case


def update_case(case: Case, data: CaseInput, actor, *, expected_version: int | None = None,
                today: date | None = None) -> list[str]:
    """Validate and apply changes. Raises CaseValidationError, or StaleCaseError when
    someone else saved the case since the form was opened."""
    today = today or clock_today()
    if expected_version is not None and expected_version != case.version:
        raise StaleCaseError()
    errors = validate_input(data, Taxonomy(case.org_id), today)
    if errors:
        raise CaseValidationError(errors)
    changed = _apply(case, data)
    if changed:
        try:
            db.session.flush()
        except StaleDataError:
            # Saved by someone else between the check above and this write (version column).
            raise StaleCaseError() from None
        refresh_urgency(case, today)
        enqueue_index(case.id)
        audit.record("case.update", actor=actor, obj=case, fields=sorted(changed))
    return changed


class StaleCaseError(Exception):
    """The case changed since the form was loaded."""


@dataclass
class EventInput:
    date: date | None
    type: str
    description: str = ""
    reference: str = ""
    # ORDONNANCE: INJONCTION, REJET, NON-LIEU, DESISTEMENT; REFERE: L521-3, L521-1, L521-2.
    outcome: str = ""


def validate_event(data: EventInput, taxonomy: Taxonomy, today: date) -> dict[str, str]:
    """Domain checks of a timeline event, shared by the form and add_event: {field: message}."""
    errors = {}
    if data.date is None:
        errors["date"] = "La date de l'événement est obligatoire."
    elif data.date > today and data.type not in FUTURE_ALLOWED_EVENTS:
        errors["date"] = "Cet événement ne peut pas être daté dans le futur."
    elif data.date < date(1990, 1, 1) or data.date > today + timedelta(days=3 * 365):
        errors["date"] = "Date invalide."
    if data.type not in taxonomy.labels("evenement"):
        errors["type"] = "Type d'événement inconnu."
    if len(data.description or "") > TEXT_LIMITS["description"]:
        errors["description"] = f"La description est limitée à {TEXT_LIMITS['description']} caractères."
    if len(data.reference or "") > 120:
        errors["reference"] = "La référence est limitée à 120 caractères."
    # An ORDONNANCE without outcome is accepted: the route then says it is missing.
    outcome = clean_text(data.outcome).upper()
    if "type" not in errors and (reason := outcome_error(data.type, outcome)):
        errors["outcome"] = reason
    return errors


def add_event(case: Case, data: EventInput, actor, *, today: date | None = None) -> Event:
    """Append a dated event to the timeline. Raises CaseValidationError."""
    today = today or clock_today()
    errors = validate_event(data, Taxonomy(case.org_id), today)
    if errors:
        raise CaseValidationError(errors)
    outcome = clean_text(data.outcome).upper()
    event = Event(case_id=case.id, date=data.date, type=data.type, outcome=outcome,
                  description=clean_text(data.description), reference=clean_text(data.reference),
                  created_by_id=actor.id if actor is not None else None)
    db.session.add(event)
    case.events.append(event)
    db.session.flush()
    refresh_urgency(case, today)
    enqueue_index(case.id)
    audit.record("event.add", actor=actor, obj=event, org_id=case.org_id, case_id=case.id, type=data.type)
    return event


def enqueue_index(case_id: int, action: str = "update") -> None:
    """Ask the search index to follow this case once the transaction commits."""
    db.session.add(IndexOutbox(case_id=case_id, action=action))


# --- computed dates ---------------------------------------------------------------------

def facts_of(case: Case) -> deadlines.CaseFacts:
    return deadlines.CaseFacts(
        status=case.status, titre_expiry=case.titre_expiry, demarche=case.demarche,
        first_attempt=case.first_attempt,
        events=tuple(deadlines.TimelineFact(e.date, e.type) for e in case.events),
    )


def rules() -> deadlines.Rules:
    from flask import current_app

    return deadlines.Rules.from_config(current_app.config)


def case_deadlines(case: Case, today: date, rule_set: deadlines.Rules | None = None) -> list[deadlines.Due]:
    """The case's deadlines today (events and codes loaded): the computed dates of
    app/cases/deadlines.py merged with the routing's (challenge window, hearing, OQTF)."""
    from app.legal.routing import route_case
    from app.legal.services import situation_of

    rule_set = rule_set or rules()
    facts = facts_of(case)
    if facts.closed:
        return []
    # Pièces do not move any date: no exhibit query (proofs=()).
    routed = route_case(situation_of(case, proofs=()), today, rule_set).deadlines
    return deadlines.case_deadlines(facts, today, rule_set, routed=[(d.kind, d.date, d.label) for d in routed])


_DERIVED_UPDATE = (
    Case.__table__.update()
    .where(Case.__table__.c.id == bindparam("case_id"))
    # updated_at set to itself: a derived value is not an edit.
    .values(urgency=bindparam("level"), urgency_on=bindparam("on"), next_deadline=bindparam("next_date"),
            next_deadline_kind=bindparam("next_kind"), deadlines_on=bindparam("on"),
            updated_at=Case.__table__.c.updated_at)
)
_DERIVED = ["urgency", "urgency_on", "next_deadline", "next_deadline_kind", "deadlines_on"]


def _store_derived(cases: list[Case], today: date, rule_set: deadlines.Rules) -> None:
    """Urgency, next deadline and the deadline rows of these cases, computed for `today`, written
    with Core statements so the cases' versions do not move (derived, not edited)."""
    updates, rows = [], []
    for case in cases:
        dues = case_deadlines(case, today, rule_set)
        nxt = dues[0] if dues else None
        updates.append({"case_id": case.id, "level": deadlines.urgency(facts_of(case), today, rule_set).level,
                        "on": today, "next_date": nxt.date if nxt else None, "next_kind": nxt.kind if nxt else ""})
        rows += [{"case_id": case.id, "org_id": case.org_id, "kind": d.kind, "date": d.date, "action": d.action}
                 for d in dues]
    db.session.execute(_DERIVED_UPDATE, updates)
    db.session.execute(delete(CaseDeadline).where(CaseDeadline.case_id.in_([c.id for c in cases])))
    if rows:
        db.session.execute(insert(CaseDeadline), rows)
    for case in cases:
        # Keep the loaded objects in step without marking them dirty.
        db.session.expire(case, _DERIVED)


def refresh_urgency(case: Case, today: date) -> None:
    """Store the urgency and the deadlines of a case that just changed, without bumping its version."""
    _store_derived([case], today, rules())


REFRESH_BATCH = 500  # cases recomputed per query round (and per commit when committing)


def stale_condition(today: date):
    """SQL condition: a case whose urgency or deadlines were not computed for `today`."""
    return (Case.urgency_on.is_(None) | (Case.urgency_on != today)
            | Case.deadlines_on.is_(None) | (Case.deadlines_on != today))


def refresh_stale_urgencies(org_id: int, today: date | None = None, batch: int | None = None, *,
                            seconds: float | None = None, commit: bool = False) -> int:
    """Recompute urgency and deadlines of the association's cases not computed today (they move
    with time; imported cases arrive without deadlines). Returns how many were recomputed.

    `seconds`: stop after the batch that goes past this budget (a page does not wait for 10,000
    cases; the rest is left for the next call or the background worker). `commit`: commit after
    each batch, so that no write transaction holds the database for a whole association.
    Each batch's rows are locked `FOR UPDATE SKIP LOCKED` on PostgreSQL: two servers, the worker
    and cron share the work instead of rewriting the same deadline rows at once."""
    return _refresh(org_id, today or clock_today(), batch or REFRESH_BATCH, seconds, commit)[0]


def _refresh(org_id: int, today: date, batch: int, seconds: float | None, commit: bool) -> tuple[int, bool]:
    """(cases recomputed, True when none is left stale)."""
    deadline = time.monotonic() + seconds if seconds is not None else None
    rule_set, done, after = rules(), 0, 0
    while True:
        # Keyset pagination: each batch starts after the last id, so the table is scanned once.
        cases = db.session.scalars(
            select(Case).where(Case.org_id == org_id, Case.id > after, stale_condition(today))
            # The narrative is the bulk of a row and no date depends on it.
            .options(defer(Case.narrative), selectinload(Case.events), selectinload(Case.codes))
            .order_by(Case.id).limit(batch).with_for_update(of=Case, skip_locked=True)
        ).all()
        if not cases:
            return done, True
        _store_derived(cases, today, rule_set)
        done, after = done + len(cases), cases[-1].id
        if commit:
            db.session.commit()
        if len(cases) < batch:
            return done, True
        if deadline is not None and time.monotonic() >= deadline:
            return done, False


def stale_count(org_id: int, today: date | None = None) -> int:
    """How many of the association's cases still wait for today's urgency and deadlines."""
    today = today or clock_today()
    return db.session.scalar(select(func.count(Case.id)).where(Case.org_id == org_id, stale_condition(today))) or 0


def refresh_for_page(org_id: int) -> int:
    """Bring the association's cases to today within PAGE_REFRESH_SECONDS (config); returns how
    many still wait (0: every urgency and deadline on the page is today's)."""
    today = clock_today()
    budget = float(current_app.config.get("PAGE_REFRESH_SECONDS", 1.0))
    _, finished = _refresh(org_id, today, REFRESH_BATCH, budget, True)
    return 0 if finished else stale_count(org_id, today)


def refresh_tick(app) -> bool:
    """Background worker: one batch of some association's cases not yet computed today (right
    after midnight, the day's recomputation is done before anyone opens a list). True if it did
    one, so the worker goes on at once."""
    today = clock_today()
    org_id = db.session.scalar(select(Case.org_id).where(stale_condition(today)).limit(1))
    if org_id is None:
        return False
    return bool(refresh_stale_urgencies(org_id, today, seconds=0, commit=True))


@dataclass
class CaseDates:
    """The computed dates of one case, with a French sentence for each, and its deadlines."""

    urgency: deadlines.Urgency
    days_without_rights: int | None
    rights_gaps: list[tuple[date, date]]
    implicit_rejection: deadlines.ImplicitRejection | None
    renewal_window: tuple[date, date] | None
    sentences: list[str]
    estimated_days: int = 0
    deadlines: list[deadlines.Due] = field(default_factory=list)
    today: date | None = None


def compute_dates(case: Case, today: date | None = None) -> CaseDates:
    """The case page's « Dates calculées »: sentences true today and the case's deadlines."""
    today = today or clock_today()
    rule_set, facts = rules(), facts_of(case)
    count = deadlines.rights_count(facts, today, rule_set)
    window = (deadlines.renewal_window(deadlines.titre_expiry_of(facts), rule_set)
              if facts.demarche in deadlines.RENEWAL_DEMARCHES else None)
    if case.deadlines_on == today:  # stored with the case today: no second routing of the timeline
        dues = [deadlines.Due(kind, day, action) for kind, day, action in db.session.execute(
            select(CaseDeadline.kind, CaseDeadline.date, CaseDeadline.action).where(CaseDeadline.case_id == case.id))]
        dues.sort(key=deadlines.Due.sort_key)
    else:
        dues = case_deadlines(case, today, rule_set)
    return CaseDates(deadlines.urgency(facts, today, rule_set), count.days, count.gaps,
                     deadlines.implicit_rejection(facts, rule_set), window,
                     deadlines.date_sentences(facts, today, rule_set), count.estimated_days, dues, today)


# --- loading with access check ------------------------------------------------------------

def get_case_or_404(case_id: int, user, *, with_timeline: bool = False) -> Case:
    """The case if it belongs to the user's association; 404 otherwise (same as missing)."""
    query = select(Case).where(Case.id == case_id, Case.org_id == user.org_id)
    if with_timeline:
        query = query.options(joinedload(Case.person), selectinload(Case.events), selectinload(Case.codes))
    case = db.session.scalar(query)
    if case is None:
        abort(404)
    return case


@dataclass
class CaseFilters:
    status: str = ""
    prefecture: str = ""
    code: str = ""
    demarche: str = ""
    date_from: date | None = None
    date_to: date | None = None


def filter_conditions(org_id: int, filters: CaseFilters) -> list:
    """The WHERE conditions of the search parameters, always limited to the association
    (shared by the case list and the exports)."""
    conditions = [Case.org_id == org_id]
    if filters.status:
        conditions.append(Case.status == filters.status)
    if filters.prefecture:
        conditions.append(Case.prefecture == filters.prefecture)
    if filters.demarche:
        conditions.append(Case.demarche == filters.demarche)
    if filters.code:
        conditions.append(Case.id.in_(select(CaseCode.case_id).where(
            CaseCode.kind == "blocage", CaseCode.code == filters.code)))
    if filters.date_from:
        conditions.append(Case.opened_on >= filters.date_from)
    if filters.date_to:
        conditions.append(Case.opened_on <= filters.date_to)
    return conditions


LIST_ORDERS = {
    "urgence": (Case.urgency.desc(), Case.titre_expiry.is_(None), Case.titre_expiry,
                Case.opened_on.desc(), Case.id.desc()),
    # Soonest deadline first (overdue ones are the oldest dates), cases without one last.
    "echeance": (Case.next_deadline.is_(None), Case.next_deadline, Case.urgency.desc(), Case.id.desc()),
}


def list_cases(org_id: int, filters: CaseFilters, page: int, per_page: int, sort: str = "urgence"):
    """One page of the association's cases, urgent first (or soonest deadline first with
    sort="echeance"). Returns (cases, total)."""
    where = and_(*filter_conditions(org_id, filters))
    total = db.session.scalar(select(func.count(Case.id)).where(where))
    cases = db.session.scalars(
        select(Case).where(where).options(joinedload(Case.person), selectinload(Case.codes))
        .order_by(*LIST_ORDERS.get(sort, LIST_ORDERS["urgence"]))
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return cases, total
