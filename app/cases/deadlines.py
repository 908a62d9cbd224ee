"""Computed dates of a case: pure functions of dates and the timeline, no database.

- days without rights (rupture de droits): from the expiry of the last valid document
  (titre or API) to the next one, or to today;
- implicit rejection: silence for N months after a complete filing (R. 432-1/R. 432-2
  CESEDA), then an M-month window to challenge it;
- renewal window: between the 120th and the 60th day before expiry (R. 431-5);
- urgency: a level that orders every list, with the reasons in French.

All durations come from `Rules`, filled from the configuration: the texts change.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

CLOSED_STATUSES = frozenset({"RESOLU", "CLOS"})


@dataclass(frozen=True)
class Rules:
    renewal_start_days: int = 120
    renewal_end_days: int = 60
    implicit_rejection_months: int = 4
    challenge_window_months: int = 2
    api_validity_months: int = 3
    expiring_soon_days: int = 30
    api_expiring_days: int = 15
    deadline_near_days: int = 15

    @classmethod
    def from_config(cls, config) -> Rules:
        return cls(
            renewal_start_days=config["RENEWAL_WINDOW_START_DAYS"],
            renewal_end_days=config["RENEWAL_WINDOW_END_DAYS"],
            implicit_rejection_months=config["IMPLICIT_REJECTION_MONTHS"],
            challenge_window_months=config["CHALLENGE_WINDOW_MONTHS"],
            api_validity_months=config["API_VALIDITY_MONTHS"],
        )


@dataclass(frozen=True)
class TimelineFact:
    date: date
    type: str


@dataclass(frozen=True)
class CaseFacts:
    """What the computations need to know about a case."""

    status: str = "OUVERT"
    titre_expiry: date | None = None
    events: tuple[TimelineFact, ...] = ()


def add_months(day: date, months: int) -> date:
    """Same day N months later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _sorted(events) -> list[TimelineFact]:
    # The timeline may be entered out of order; every computation reads it sorted.
    return sorted(events, key=lambda e: e.date)


def _first(events, type_: str, after: date | None = None) -> date | None:
    for event in _sorted(events):
        if event.type == type_ and (after is None or event.date >= after):
            return event.date
    return None


def titre_expiry_of(facts: CaseFacts) -> date | None:
    """The titre's expiry: recorded on the case, else the first « Titre expiré » event."""
    return facts.titre_expiry or _first(facts.events, "TITRE-EXP")


def api_periods(facts: CaseFacts, rules: Rules) -> list[tuple[date, date]]:
    """Validity of each API delivered: [delivery, last valid day], cut short by an « API expirée »."""
    events = _sorted(facts.events)
    periods = []
    for i, event in enumerate(events):
        if event.type != "API":
            continue
        end = add_months(event.date, rules.api_validity_months) - timedelta(days=1)
        for later in events[i + 1:]:
            if later.type == "API-FIN" and later.date <= end:
                end = later.date - timedelta(days=1)
                break
        if end >= event.date:
            periods.append((event.date, end))
    return periods


def rights_gaps(facts: CaseFacts, today: date, rules: Rules) -> list[tuple[date, date]]:
    """Periods with no valid document, each as [first day, last day], up to today."""
    expiry = titre_expiry_of(facts)
    if expiry is None or expiry >= today:
        return []
    end = today
    granted = _first(facts.events, "TITRE-OK", after=expiry)
    if granted is not None:
        end = min(end, granted - timedelta(days=1))
    gaps: list[tuple[date, date]] = []
    cursor = expiry + timedelta(days=1)
    for start, stop in sorted(api_periods(facts, rules)):
        if stop < cursor:
            continue
        if start > cursor:
            gaps.append((cursor, min(start - timedelta(days=1), end)))
        cursor = max(cursor, stop + timedelta(days=1))
        if cursor > end:
            break
    if cursor <= end:
        gaps.append((cursor, end))
    return [(a, b) for a, b in gaps if a <= b]


def days_without_rights(facts: CaseFacts, today: date, rules: Rules) -> int | None:
    """Total days without a valid document; None when no expiry is known."""
    if titre_expiry_of(facts) is None:
        return None
    return sum((b - a).days + 1 for a, b in rights_gaps(facts, today, rules))


def in_rupture_today(facts: CaseFacts, today: date, rules: Rules) -> bool:
    gaps = rights_gaps(facts, today, rules)
    return bool(gaps) and gaps[-1][1] == today


@dataclass(frozen=True)
class ImplicitRejection:
    filed_on: date
    rejection_on: date
    challenge_until: date


def implicit_rejection(facts: CaseFacts, rules: Rules) -> ImplicitRejection | None:
    """Implicit rejection after a complete filing (« Dépôt ») with no favourable decision."""
    filed = _first(facts.events, "DEPOT")
    if filed is None:
        return None
    rejection = add_months(filed, rules.implicit_rejection_months)
    decided = _first(facts.events, "TITRE-OK", after=filed)
    if decided is not None and decided < rejection:
        return None
    return ImplicitRejection(filed, rejection, add_months(rejection, rules.challenge_window_months))


def renewal_window(expiry: date | None, rules: Rules) -> tuple[date, date] | None:
    if expiry is None:
        return None
    return (expiry - timedelta(days=rules.renewal_start_days),
            expiry - timedelta(days=rules.renewal_end_days))


URGENCY_LABELS = {0: "Sans urgence", 1: "À surveiller", 2: "Urgent", 3: "Critique"}


@dataclass(frozen=True)
class Urgency:
    level: int
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return URGENCY_LABELS[self.level]


def urgency(facts: CaseFacts, today: date, rules: Rules) -> Urgency:
    """Urgency level 0–3 and its reasons; closed or resolved cases are never urgent."""
    if facts.status in CLOSED_STATUSES:
        return Urgency(0)
    level, reasons = 0, []

    def raise_to(new_level: int, reason: str) -> None:
        nonlocal level
        level = max(level, new_level)
        reasons.append(reason)

    expiry = titre_expiry_of(facts)
    apis = api_periods(facts, rules)
    current_api = next((p for p in apis if p[0] <= today <= p[1]), None)
    later_api = any(p[0] > today for p in apis)

    if in_rupture_today(facts, today, rules):
        days = days_without_rights(facts, today, rules)
        raise_to(3, f"Rupture de droits en cours ({days} jours sans document valide).")
    elif expiry is not None and today <= expiry <= today + timedelta(days=rules.expiring_soon_days):
        if current_api is None or current_api[1] < expiry:
            raise_to(2, f"Le titre expire dans {(expiry - today).days} jours sans API.")
    if current_api is not None and not later_api:
        left = (current_api[1] - today).days
        if left <= rules.api_expiring_days:
            raise_to(2, f"L'API expire dans {left} jours.")

    rejection = implicit_rejection(facts, rules)
    if rejection is not None and rejection.rejection_on <= today <= rejection.challenge_until:
        left = (rejection.challenge_until - today).days
        if left <= rules.deadline_near_days:
            raise_to(3, f"Le délai de recours contre le rejet implicite se termine dans {left} jours.")
        else:
            raise_to(2, "Rejet implicite acquis : le délai de recours court.")

    window = renewal_window(expiry, rules)
    filed = _first(facts.events, "DEPOT")
    if window is not None and (filed is None or filed < window[0]) and today <= expiry:
        if window[0] <= today <= window[1]:
            raise_to(1, "Fenêtre de renouvellement ouverte, aucun dépôt enregistré.")
        elif window[1] < today:
            raise_to(2, "Fenêtre de renouvellement passée, aucun dépôt enregistré.")

    hearing = next((e.date for e in _sorted(facts.events)
                    if e.type == "AUDIENCE" and today <= e.date <= today + timedelta(days=7)), None)
    if hearing is not None:
        raise_to(2, f"Audience dans {(hearing - today).days} jours.")
    return Urgency(level, reasons)
