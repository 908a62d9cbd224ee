"""Organisations (associations) and their members."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.clock import utcnow
from app.extensions import db


class Role(enum.StrEnum):
    VOLUNTEER = "volunteer"
    LAWYER = "lawyer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.VOLUNTEER: "Bénévole",
    Role.LAWYER: "Avocat·e",
    Role.COORDINATOR: "Coordination",
    Role.ADMIN: "Administration",
}


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Prefix of case references, e.g. LYO in LYO-2025-0042.
    ref_prefix: Mapped[str] = mapped_column(String(8))
    require_2fa: Mapped[bool] = mapped_column(default=False)
    # Retention: anonymise cases this many days after their last activity.
    retention_days: Mapped[int] = mapped_column(default=730)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    # Bumped to end every session of the user (password change, deactivation).
    session_version: Mapped[int] = mapped_column(default=1)
    # Encrypted at rest (app/core/security.py, key derived from SECRET_KEY): "v1:<Fernet token>".
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_counter: Mapped[int | None]
    # JSON list of SHA-256 hashes of the unused recovery codes (each works once).
    recovery_codes: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    # Deadline digests by e-mail (app/deadlines): "daily", "weekly" or "off", chosen in « Mon compte ».
    digest: Mapped[str] = mapped_column(String(8), default="daily", server_default="daily")
    # Calendar feed: its secret token is derived from this key and SECRET_KEY (app/deadlines/calendar.py),
    # so the database alone does not give working feed addresses. NULL: not set up yet (created when
    # « Mon compte » is shown); "": revoked by the user.
    calendar_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="users")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        # The session version is part of the id: bumping it logs every session out.
        return f"{self.id}:{self.session_version}"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class UserSession(db.Model):
    """A logged-in browser. The cookie carries only a random token whose SHA-256 is kept here, so
    logout, deactivation, a password change or a 2FA reset end the session on the server: a copy
    of the cookie taken before is worth nothing after."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    second_factor_passed: Mapped[bool] = mapped_column(default=False)
    # Enrolment in progress: the TOTP seed shown as a QR code, encrypted, never in the cookie.
    pending_totp: Mapped[str | None] = mapped_column(String(255))
    # Shown to the user in « Mon compte » to recognise their own sessions.
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None]


class ThrottleCounter(db.Model):
    """Attempts counted per key (scope, address or account) and fixed time window, shared by
    every worker and server through the database (app/auth/throttle.py)."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int] = mapped_column(default=0)
