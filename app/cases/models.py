"""Persons, cases, timeline events and the taxonomies that type them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.extensions import db


class Code(db.Model):
    """One entry of a taxonomy (blocage, démarche, statut, événement, conséquence).

    Shipped codes have org_id NULL; an association's admin may add its own.
    """

    __tablename__ = "codes"
    __table_args__ = (UniqueConstraint("kind", "code", "org_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))


class Person(db.Model):
    """The person helped: kept apart from the case so exports can drop it whole."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # Optional « M. » / « Mme »: the requête writes its sentences so that none is needed.
    civility: Mapped[str] = mapped_column(String(8), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(200), default="")
    birth_date: Mapped[date | None]
    birth_place: Mapped[str] = mapped_column(String(200), default="")
    nationality: Mapped[str] = mapped_column(String(100), default="")
    numero_etranger: Mapped[str] = mapped_column(String(10), default="", index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(60), default="")
    # Consent (GDPR): when, by whom, for what; withdrawal keeps the history.
    consent_date: Mapped[date | None]
    consent_collected_by: Mapped[str] = mapped_column(String(200), default="")
    consent_followup: Mapped[bool] = mapped_column(default=False)
    consent_litigation: Mapped[bool] = mapped_column(default=False)
    consent_statistics: Mapped[bool] = mapped_column(default=False)
    consent_withdrawn_at: Mapped[date | None]
    anonymised_at: Mapped[datetime | None]

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name.upper()) if p)


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("org_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    reference: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    prefecture: Mapped[str] = mapped_column(String(3), index=True)
    demarche: Mapped[str] = mapped_column(String(32))
    titre_demande: Mapped[str] = mapped_column(String(200), default="")
    titre_actuel: Mapped[str] = mapped_column(String(200), default="")
    titre_expiry: Mapped[date | None]
    anef_number: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    first_attempt: Mapped[date | None]
    opened_on: Mapped[date] = mapped_column(default=lambda: utcnow().date())
    narrative: Mapped[str] = mapped_column(Text, default="")
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lawyer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    legal_hold: Mapped[bool] = mapped_column(default=False)
    # Set when retention or an erasure removed the personal data (app/privacy).
    anonymised_at: Mapped[datetime | None]
    # Urgency is derived from dates and the timeline; it is stored (with the day it was
    # computed) so that lists of 10,000 cases can be ordered by the database.
    urgency: Mapped[int] = mapped_column(default=0, index=True)
    urgency_on: Mapped[date | None]
    # The next deadline and its kind (app/cases/deadlines.py, routing's dates included), stored
    # like urgency with the day it was computed: the list sorts by it without per-case queries.
    next_deadline: Mapped[date | None] = mapped_column(index=True)
    next_deadline_kind: Mapped[str] = mapped_column(String(24), default="", server_default="")
    deadlines_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Optimistic locking: a stale edit form is refused instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    person: Mapped[Person | None] = relationship()
    volunteer = relationship("User", foreign_keys=[volunteer_id])
    lawyer = relationship("User", foreign_keys=[lawyer_id])
    codes: Mapped[list[CaseCode]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseCode.position"
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="(Event.date, Event.id)"
    )

    def codes_of(self, kind: str) -> list[str]:
        return [c.code for c in self.codes if c.kind == kind]

    @property
    def blocages(self) -> list[str]:
        return self.codes_of("blocage")

    @property
    def consequences(self) -> list[str]:
        return self.codes_of("consequence")

    @property
    def primary_blocage(self) -> str | None:
        codes = self.blocages
        return codes[0] if codes else None


class CaseCode(db.Model):
    """A blocking code or consequence of a case; position 0 is the primary one."""

    __tablename__ = "case_codes"
    __table_args__ = (UniqueConstraint("case_id", "kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "blocage" | "consequence"
    code: Mapped[str] = mapped_column(String(32), index=True)
    position: Mapped[int] = mapped_column(default=0)

    case: Mapped[Case] = relationship(back_populates="codes")


class Event(db.Model):
    """A dated fact on the timeline. Append-only: a correction is a new event."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    date: Mapped[date]
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    # A CCC ticket, an LRAR number, a requête number…
    reference: Mapped[str] = mapped_column(String(120), default="")
    # The outcome of an ORDONNANCE (INJONCTION, REJET, NON-LIEU, DESISTEMENT) or the kind of a
    # REFERE (L521-3, L521-1, L521-2): the routing and the dossier read this, never the text.
    outcome: Mapped[str] = mapped_column(String(16), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")
