"""Exhibits (pièces), their custody log and the OCR queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.extensions import db


class Exhibit(db.Model):
    """One file as received: bytes on disk under its SHA-256, metadata here."""

    __tablename__ = "exhibits"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    # Pièce n°: stable within the case; a lawyer may renumber.
    number: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    mime: Mapped[str] = mapped_column(String(100))
    extension: Mapped[str] = mapped_column(String(10))
    original_name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # What the pièce is (app/legal/natures: CAPTURE, COURRIER, ACCUSE-LRAR, TITRE…), named so in
    # the bordereau; defaults from the sniffed type.
    nature: Mapped[str] = mapped_column(String(20), default="")
    captured_at: Mapped[datetime | None]
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    # OCR: "pending" | "done" | "unavailable" | "failed" | "none" (nothing to read)
    ocr_status: Mapped[str] = mapped_column(String(16), default="pending")
    ocr_text: Mapped[str] = mapped_column(Text, default="")

    case = relationship("Case")
    event = relationship("Event")
    added_by = relationship("User")


class CustodyRecord(db.Model):
    """Append-only chain of custody: added, viewed, downloaded, exported, renumbered, withdrawn."""

    __tablename__ = "custody_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[str] = mapped_column(Text, default="")

    exhibit = relationship("Exhibit")
    actor = relationship("User")


class OcrJob(db.Model):
    """Durable OCR queue: one row per exhibit to read, retried until it succeeds."""

    __tablename__ = "ocr_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    exhibit_id: Mapped[int] = mapped_column(ForeignKey("exhibits.id"), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
