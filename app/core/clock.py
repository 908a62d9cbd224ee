"""One place for "now", so tests and exports can pass a frozen clock."""

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """Naive UTC datetime, as stored in every DateTime column (SQLite keeps no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    return utcnow().date()
