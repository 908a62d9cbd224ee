"""Server-side sessions: the cookie holds a random token, the table holds its SHA-256, when the
session started and was last used, and whether it passed the second factor. Ending a session is
a database write, so it holds against a copy of the cookie."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from app.auth.models import User, UserSession
from app.core.clock import utcnow
from app.extensions import db

# Rows of ended sessions are kept this long (the list in « Mon compte » shows only live ones).
KEEP_ENDED = timedelta(days=30)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, *, ip: str = "", user_agent: str = "", now: datetime | None = None) -> tuple[UserSession, str]:
    """A new session for the user; returns the row and the token to put in the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, token_hash=_digest(token), created_at=now, last_seen_at=now,
                      ip=(ip or "")[:45], user_agent=(user_agent or "")[:200])
    db.session.add(row)
    # Housekeeping for this user only: ended sessions older than KEEP_ENDED.
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_not(None),
                                                 UserSession.revoked_at < now - KEEP_ENDED))
    db.session.flush()
    return row, token


def find(token: object) -> UserSession | None:
    """The live row for a cookie token, or None (unknown, revoked or malformed)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return db.session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token),
                                                       UserSession.revoked_at.is_(None)))


def revoke(row: UserSession, now: datetime | None = None) -> None:
    row.revoked_at = now or utcnow()
    db.session.flush()


def revoke_all(user: User, *, keep: UserSession | None = None, now: datetime | None = None) -> int:
    """End every live session of the user except `keep`; returns how many ended."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    # "fetch": rows already loaded in this session (g.user_session…) see their revocation too.
    return db.session.execute(query.values(revoked_at=now or utcnow())
                              .execution_options(synchronize_session="fetch")).rowcount


def live(user: User, *, idle: timedelta, lifetime: timedelta, now: datetime | None = None) -> list[UserSession]:
    """The user's sessions still usable now, most recent first."""
    now = now or utcnow()
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None),
                                  UserSession.created_at > now - lifetime, UserSession.last_seen_at > now - idle)
        .order_by(UserSession.last_seen_at.desc())))


def browser_label(user_agent: str) -> str:
    """A short French description of a User-Agent, to recognise one's devices."""
    ua = user_agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                                           ("Safari/", "Safari")) if key in ua), "navigateur inconnu")
    system = next((name for key, name in (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
                                          ("Windows", "Windows"), ("Mac OS", "macOS"), ("Linux", "Linux"))
                   if key in ua), "")
    return f"{browser} sur {system}" if system else browser

