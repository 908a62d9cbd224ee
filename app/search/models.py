"""Search outbox: cases whose index entry must be refreshed after commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.extensions import db


class IndexOutbox(db.Model):
    """Written in the same transaction as the change; drained after commit.

    If the index is unavailable the row stays, and the next drain catches up:
    the database change is never lost and the index never runs ahead of it.
    """

    __tablename__ = "index_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(10), default="update")  # update | delete
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
