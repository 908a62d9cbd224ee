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
