"""Stored deadlines of the cases (refreshed with each case and daily) and the record of digests sent."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.extensions import db


class CaseDeadline(db.Model):
    """One deadline of a case (app/cases/deadlines.py `Due`), as computed on the case's
    `deadlines_on` day. Derived data: rewritten whole for a case whenever it is recomputed, so
    « Échéances », the digests and the calendar read 10,000 cases with one indexed query."""

    __tablename__ = "case_deadlines"
    __table_args__ = (Index("ix_case_deadlines_org_id_date", "org_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    date: Mapped[date]
    action: Mapped[str] = mapped_column(Text, default="")


class DigestSend(db.Model):
    """One user's digest of one day: claimed ("sending") before the SMTP conversation, "sent"
    after it; a failed send removes the claim. The unique (user, day) makes a second cron run of
    the same day — or two at once — send nothing twice."""

    __tablename__ = "digest_sends"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date]
    state: Mapped[str] = mapped_column(String(8), default="sending")
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    items: Mapped[int] = mapped_column(default=0)


class NotifiedDeadline(db.Model):
    """A deadline already told to a user in a digest: a deadline beyond the digest's horizon is
    told once, when it first appears (« nouvelle échéance »), then again as it comes near."""

    __tablename__ = "notified_deadlines"
    __table_args__ = (UniqueConstraint("user_id", "case_id", "kind", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    date: Mapped[date]
    first_sent_on: Mapped[date]
