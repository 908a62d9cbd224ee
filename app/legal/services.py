"""The routing of a stored case: load its facts and pièces, ask app/legal/routing.py.

Shared by the case page, `flask cases route` and the requête exports.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.cases.models import Case
from app.cases.services import rules
from app.core.clock import today as clock_today
from app.evidence.models import Exhibit
from app.extensions import db
from app.legal.routing import Fact, Routing, Situation, exhibits_by_event, route_case


class _Proof:
    """The three things `exhibits_by_event` reads from an exhibit."""

    __slots__ = ("number", "event_id", "day")

    def __init__(self, number, event_id, captured_at, added_at):
        self.number, self.event_id = number, event_id
        when = captured_at or added_at
        self.day = when.date() if when else None


def situation_of(case: Case, proofs=None) -> Situation:
    """The case (events loaded) as the routing sees it. `proofs`: objects with .number, .event_id
    and .day (the brief passes its numbered pièces); by default the case's current exhibits."""
    if proofs is None:
        proofs = [_Proof(*row) for row in db.session.execute(
            select(Exhibit.number, Exhibit.event_id, Exhibit.captured_at, Exhibit.added_at)
            .where(Exhibit.case_id == case.id, Exhibit.withdrawn_at.is_(None)).order_by(Exhibit.number))]
    by_event = exhibits_by_event(case.events, proofs)
    return Situation(
        status=case.status, demarche=case.demarche, titre_expiry=case.titre_expiry,
        first_attempt=case.first_attempt, blocages=tuple(case.blocages), consequences=tuple(case.consequences),
        events=tuple(Fact(e.date, e.type, e.outcome or "", e.reference or "", by_event.get(e.id, ()), e.id)
                     for e in case.events))


def routing_for(case: Case, today: date | None = None, proofs=None) -> Routing:
    """Which remedy the case calls for today, with reasons, warnings and deadlines."""
    return route_case(situation_of(case, proofs), today or clock_today(), rules())


def export_letter(case: Case, org, actor, kind: str, *, source: str = "web", today: date | None = None):
    """A letter drafted from the case (prefet, motifs, defenseur) as an ExportFile, audited.
    Raises LetterRefused (unknown kind, or a letter the case's facts do not support)."""
    from app.audit import services as audit
    from app.core import departements
    from app.exports.services import DOCX, _file, _requete_input, org_template
    from app.exports.text import ascii_slug
    from app.legal.letters import LetterInput, build_letter, check_kind, load_letter_texts
    from app.legal.requete import load_references

    check_kind(kind)
    today = today or clock_today()
    base = _requete_input(case, today)
    dep = departements.get(case.prefecture)
    data = LetterInput(case=base.case, party=base.party,
                       numero_etranger=case.person.numero_etranger if case.person else "",
                       exhibits=base.exhibits, labels=base.labels, prefet=base.prefet,
                       departement=dep.label if dep else case.prefecture, routing=base.routing)
    content = build_letter(kind, data, texts=load_letter_texts(), references=load_references(), today=today,
                           template=org_template(org))
    result = _file(content, f"lettre_{kind}_{ascii_slug(case.reference, 40) or case.id}.docx", DOCX,
                   len(data.exhibits))
    audit.record("export.letter", actor=actor, obj=case, org_id=case.org_id, sha256=result.sha256, kind=kind,
                 source=source)
    return result


class SendingRefused(ValueError):
    """A sent letter that cannot be recorded: {field: French message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def record_sent_letter(case: Case, kind: str, sent_on: date | None, lrar_number: str, actor, *,
                       upload=None, filename: str | None = None, today: date | None = None):
    """Sending is a fact: one timeline event (SUBST for the préfet's letter, PREF for the request
    of reasons, DDD for the Défenseur des droits) with the LRAR number as its reference, and the
    scanned proof (accusé, copy) as a pièce attached to it. All or nothing: raises
    SendingRefused, and the caller rolls back. Returns the event."""
    from app.cases.services import CaseValidationError, EventInput, add_event
    from app.evidence.services import ExhibitRefused, add_exhibit
    from app.legal.letters import LetterRefused, check_kind, load_letter_texts

    try:
        check_kind(kind)
    except LetterRefused as exc:
        raise SendingRefused({"kind": str(exc)}) from None
    own = load_letter_texts()["letters"][kind]
    lrar_number = " ".join((lrar_number or "").split())
    errors = {}
    if own.get("lrar") and not lrar_number:
        errors["lrar"] = "Indiquez le numéro de la lettre recommandée (sur la preuve de dépôt de La Poste)."
    if len(lrar_number) > 40:
        errors["lrar"] = "Le numéro de la lettre recommandée compte 40 caractères au plus."
    if errors:
        raise SendingRefused(errors)
    try:
        event = add_event(case, EventInput(sent_on, own["event"], own["event_description"], lrar_number), actor,
                          today=today)
    except CaseValidationError as exc:
        raise SendingRefused({{"date": "sent_on"}.get(k, k): v for k, v in exc.errors.items()}) from None
    if upload is not None:
        nature = "ACCUSE-LRAR" if own.get("lrar") else "COURRIER"
        try:
            add_exhibit(case, upload, filename, actor, description=own["event_description"],
                        captured_at=sent_on, event_id=event.id, nature=nature)
        except ExhibitRefused as exc:
            raise SendingRefused({"file": str(exc)}) from None
    return event
