"""Counters of failed attempts per key and fixed window, in the database so that every worker
and every server shares them. One upsert statement adds and returns the count: parallel
requests cannot both see the old value."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update

from app.auth.models import ThrottleCounter
from app.extensions import db


def _window_key(key: str, window: timedelta, now: datetime) -> tuple[str, datetime]:
    seconds = max(60, int(window.total_seconds()))
    epoch = datetime(1970, 1, 1)
    index = int((now - epoch).total_seconds()) // seconds
    return f"{key[:140]}@{index}", epoch + timedelta(seconds=index * seconds)


def hit(key: str, window: timedelta, now: datetime) -> int:
    """Add one to the key's counter for the current window; return the new count."""
    full_key, start = _window_key(key, window, now)
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(ThrottleCounter).values(key=full_key, window_start=start, count=1)
    statement = statement.on_conflict_do_update(index_elements=[ThrottleCounter.key],
                                                set_={"count": ThrottleCounter.count + 1})
    count = db.session.execute(statement.returning(ThrottleCounter.count)).scalar_one()
    # Old windows are useless: drop them now and then (cheap, indexed).
    if count == 1:
        db.session.execute(delete(ThrottleCounter).where(ThrottleCounter.window_start < start - window))
    return count


def refund(key: str, window: timedelta, now: datetime) -> None:
    """Give back one attempt (it succeeded: only failures count)."""
    full_key, _start = _window_key(key, window, now)
    db.session.execute(update(ThrottleCounter).where(ThrottleCounter.key == full_key, ThrottleCounter.count > 0)
                       .values(count=ThrottleCounter.count - 1).execution_options(synchronize_session=False))
