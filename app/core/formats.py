"""French formatting of dates and durations, shared by pages and exports."""

from __future__ import annotations

from datetime import date, datetime

MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre"]


def date_fr(value: date | datetime | None) -> str:
    """12/02/2025"""
    return value.strftime("%d/%m/%Y") if value else ""


def date_long(value: date | datetime | None) -> str:
    """« 12 février 2025 », « 1er mars 2025 »."""
    if not value:
        return ""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def datetime_fr(value: datetime | None) -> str:
    return value.strftime("%d/%m/%Y %H:%M") + " UTC" if value else ""


def duration_fr(days: int | None) -> str:
    """A number of days in words: « 3 jours », « 2 mois et 5 jours », « 1 an et 2 mois »."""
    if days is None:
        return ""
    if days < 0:
        return ""
    if days < 31:
        return f"{days} jour{'s' if days > 1 else ''}"
    years, rest = divmod(days, 365)
    months, rest_days = divmod(rest, 30)
    parts = []
    if years:
        parts.append(f"{years} an{'s' if years > 1 else ''}")
    if months:
        parts.append(f"{months} mois")
    if rest_days and not years:
        parts.append(f"{rest_days} jour{'s' if rest_days > 1 else ''}")
    return " et ".join(parts)
