"""A coalition of associations and its members; what is published at /stats/<slug>.

A member's `state` is « invited » (asked by a member's admin, not yet accepted), « member »
(its cases count in the pooled figures) or « left » (kept for the record; counts no more,
at once). Only anonymised figures are ever pooled: the tables hold no case data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.extensions import db

INVITED, MEMBER, LEFT = "invited", "member", "left"


class Coalition(db.Model):
    __tablename__ = "coalitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The public page /stats/<slug>: published by an admin of a member association (or the CLI).
    stats_published_at: Mapped[datetime | None]

    members: Mapped[list[CoalitionMember]] = relationship(back_populates="coalition", order_by="CoalitionMember.id")


class CoalitionMember(db.Model):
    __tablename__ = "coalition_members"
    __table_args__ = (UniqueConstraint("coalition_id", "org_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coalition_id: Mapped[int] = mapped_column(ForeignKey("coalitions.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(8), default=INVITED)
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]

    coalition: Mapped[Coalition] = relationship(back_populates="members")


class OrgPublication(db.Model):
    """An association's public page /stats/<org slug>, when its admin published it."""

    __tablename__ = "org_publications"

    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
