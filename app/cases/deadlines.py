"""Computed dates of a case: pure functions of dates and the timeline, no database.

- days without rights (rupture de droits): from the expiry of the last valid document
  (titre or API) to the next one, to the case's resolution, or to today if it goes on; days
  that rest on an assumed API end are counted apart as an estimate;
- implicit rejection: silence for N months after a complete filing (R. 432-1/R. 432-2
  CESEDA), then an M-month window to challenge it;
- renewal window: between the 120th and the 60th day before expiry (R. 431-5);
- urgency: a level that orders every list, with the reasons in French;
- the case's deadlines (`case_deadlines`): kind, date and what to do, merged with the
  routing's dates (passed in as data: app/legal/routing.py imports this module);
- the sentences of the case page (`date_sentences`), worded for where each date stands
  today (passed, today, coming) and for the case's status (resolved and closed cases read
  as history, not instructions).

All durations come from `Rules`, filled from the configuration: the texts change.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.core.formats import date_long, duration_fr

CLOSED_STATUSES = frozenset({"RESOLU", "CLOS"})
# Démarches the renewal window of R. 431-5 applies to; "" (unknown, e.g. a caller that does not
# pass it) keeps the window so that no renewal is silently missed.
RENEWAL_DEMARCHES = frozenset({"RENOUV", ""})
# What shows the person tried to file (the routing reads attempts the same way).
FILINGS = frozenset({"DEPOT", "TENTATIVE", "ERREUR"})
DECISIONS = frozenset({"TITRE-OK", "REFUS", "OQTF"})
# An OQTF stays on the lists for a month after its notification: the time limits to challenge
# one are counted in days or weeks (the exact one is written on the decision).
OQTF_WATCH_DAYS = 30
ONE_DAY = timedelta(days=1)


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
    demarche: str = ""
    first_attempt: date | None = None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES


def add_months(day: date, months: int) -> date:
    """Same day N months later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _sorted(events) -> list[TimelineFact]:
    # The timeline may be entered out of order; every computation reads it sorted.
    return sorted(events, key=lambda e: e.date)


def _first(events, type_: str | frozenset, after: date | None = None) -> date | None:
    types = {type_} if isinstance(type_, str) else type_
    for event in _sorted(events):
        if event.type in types and (after is None or event.date >= after):
            return event.date
    return None


def _first_event(events, types, after: date) -> TimelineFact | None:
    return next((e for e in _sorted(events) if e.type in types and e.date >= after), None)


def titre_expiry_of(facts: CaseFacts) -> date | None:
    """The titre's expiry: recorded on the case, else the first « Titre expiré » event."""
    return facts.titre_expiry or _first(facts.events, "TITRE-EXP")


# --- API periods and days without rights --------------------------------------------------------

@dataclass(frozen=True)
class ApiPeriod:
    """One API's validity, [delivery, last valid day]. `estimated`: no « API expirée » was
    recorded, so the end is assumed from the legal validity (API_VALIDITY_MONTHS)."""

    start: date
    end: date
    estimated: bool


def api_spans(facts: CaseFacts, rules: Rules) -> list[ApiPeriod]:
    """Each API delivered, cut short by an « API expirée » dated within its validity (or on the
    day after it, which confirms the assumed end)."""
    events = _sorted(facts.events)
    spans = []
    for i, event in enumerate(events):
        if event.type != "API":
            continue
        end, estimated = add_months(event.date, rules.api_validity_months) - ONE_DAY, True
        for later in events[i + 1:]:
            if later.type == "API-FIN" and later.date <= end + ONE_DAY:
                end, estimated = later.date - ONE_DAY, False
                break
        if end >= event.date:
            spans.append(ApiPeriod(event.date, end, estimated))
    return spans


def api_periods(facts: CaseFacts, rules: Rules) -> list[tuple[date, date]]:
    """Validity of each API delivered: [delivery, last valid day], cut short by an « API expirée »."""
    return [(p.start, p.end) for p in api_spans(facts, rules)]


def _gaps(first_day: date, end: date, spans) -> list[tuple[date, date]]:
    """Days from first_day to end (inclusive) covered by none of the spans."""
    gaps: list[tuple[date, date]] = []
    cursor = first_day
    for start, stop in sorted(spans):
        if stop < cursor:
            continue
        if start > cursor:
            gaps.append((cursor, min(start - ONE_DAY, end)))
        cursor = max(cursor, stop + ONE_DAY)
        if cursor > end:
            break
    if cursor <= end:
        gaps.append((cursor, end))
    return [(a, b) for a, b in gaps if a <= b]


def _total(gaps) -> int:
    return sum((b - a).days + 1 for a, b in gaps)


@dataclass(frozen=True)
class RightsCount:
    """Days without rights and how far they were counted.

    `end_reason`: "today" (the case is open), "granted" (a favourable decision ended the
    rupture), "closed" (resolved or closed without a recorded decision: counted to the last
    recorded event), "unknown" (no expiry, or a closed case without any event).
    `estimated_days`: further days without rights if the APIs whose end is not recorded did not
    cover their assumed validity — counted apart, never added silently.
    """

    expiry: date | None
    end: date | None
    end_reason: str
    gaps: list[tuple[date, date]]
    days: int | None
    estimated_days: int = 0
    estimated_apis: tuple[ApiPeriod, ...] = ()
    current_api: ApiPeriod | None = None

    @property
    def ongoing(self) -> bool:
        return self.end_reason == "today" and bool(self.gaps) and self.gaps[-1][1] == self.end


def rights_count(facts: CaseFacts, today: date, rules: Rules) -> RightsCount:
    """Days without rights from the titre's expiry to the next document, the resolution or today."""
    expiry = titre_expiry_of(facts)
    if expiry is None:
        return RightsCount(None, None, "unknown", [], None)
    spans = api_spans(facts, rules)
    current = next((p for p in spans if p.start <= today <= p.end), None)
    granted = _first(facts.events, "TITRE-OK", after=expiry)
    if granted is not None and granted <= today:
        end, reason = granted - ONE_DAY, "granted"
    elif facts.closed:
        last = max((e.date for e in facts.events), default=None)
        if last is None:
            return RightsCount(expiry, None, "unknown", [], None, current_api=current)
        end, reason = min(last, today), "closed"
    else:
        end, reason = today, "today"
    if end <= expiry:
        return RightsCount(expiry, end, reason, [], 0, current_api=current)
    first_day = expiry + ONE_DAY
    gaps = _gaps(first_day, end, [(p.start, p.end) for p in spans])
    certain = [(p.start, p.end) for p in spans if not p.estimated]
    estimated_days = _total(_gaps(first_day, end, certain)) - _total(gaps)
    estimated = tuple(p for p in spans if p.estimated and p.end >= first_day and p.start <= end)
    return RightsCount(expiry, end, reason, gaps, _total(gaps), estimated_days, estimated if estimated_days else (),
                       current)


def rights_gaps(facts: CaseFacts, today: date, rules: Rules) -> list[tuple[date, date]]:
    """Periods with no valid document, each as [first day, last day], up to today or the resolution."""
    return rights_count(facts, today, rules).gaps


def days_without_rights(facts: CaseFacts, today: date, rules: Rules) -> int | None:
    """Total days without a valid document; None when no expiry (or no end) is known. Days that
    rest on an assumed API end are not in it: see `rights_count(...).estimated_days`."""
    return rights_count(facts, today, rules).days


def in_rupture_today(facts: CaseFacts, today: date, rules: Rules) -> bool:
    return rights_count(facts, today, rules).ongoing


# --- implicit rejection, renewal window ---------------------------------------------------------

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


def _is_renewal(facts: CaseFacts) -> bool:
    return facts.demarche in RENEWAL_DEMARCHES


def _filings(facts: CaseFacts) -> list[date]:
    days = [e.date for e in facts.events if e.type in FILINGS]
    if facts.first_attempt:
        days.append(facts.first_attempt)
    return sorted(days)


# --- urgency ------------------------------------------------------------------------------------

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

    count = rights_count(facts, today, rules)
    if count.ongoing:
        raise_to(3, f"Rupture de droits en cours ({count.days} jours sans document valide).")
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

    window = renewal_window(expiry, rules) if _is_renewal(facts) else None
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

    events = _sorted(facts.events)
    oqtf = next((e for e in reversed(events) if e.type == "OQTF"), None)
    if (oqtf is not None and oqtf.date <= today <= oqtf.date + timedelta(days=OQTF_WATCH_DAYS)
            and _first_event(events, {"TITRE-OK"}, oqtf.date) is None):
        raise_to(3, f"OQTF notifiée le {date_long(oqtf.date)} : les délais pour la contester se comptent en jours.")
    # The last API lapsed and nothing followed it (no new API, no decision): the person has no document.
    spans = api_spans(facts, rules)
    if spans and not count.ongoing:
        last = max(spans, key=lambda p: (p.start, p.end))
        if last.end < today and _first_event(events, DECISIONS, last.start) is None:
            raise_to(2, f"L'API a pris fin le {date_long(last.end)} et aucune nouvelle API n'est enregistrée.")
    return Urgency(level, reasons)


# --- the case's deadlines -------------------------------------------------------------------------

# Kind code -> label (UI, e-mails, calendar). The routing's kinds (app/legal/routing.py) are here too.
KIND_LABELS = {
    "RENOUVELLEMENT": "Renouvellement à demander",
    "TITRE": "Expiration du titre",
    "API": "Fin de l'API",
    "REJET-IMPLICITE": "Rejet implicite",
    "RECOURS": "Fin du délai de recours",
    "OQTF": "OQTF notifiée",
    "AUDIENCE": "Audience",
}
# Same-day deadlines: the one that costs most when missed first.
KIND_ORDER = {kind: i for i, kind in enumerate(("OQTF", "RECOURS", "AUDIENCE", "API", "TITRE", "RENOUVELLEMENT",
                                                "REJET-IMPLICITE"))}


# The routing names these (an OQTF dated by its notification, a hearing); the lists need what to do.
ROUTED_ACTIONS = {
    "OQTF": "Le délai pour contester l'OQTF court depuis sa notification et se compte en jours (il est indiqué sur "
            "la décision) : confier le dossier à un·e avocat·e sans attendre.",
    "AUDIENCE": "Audience devant le juge des référés : préparer le dossier et la venue de la personne.",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.capitalize())


@dataclass(frozen=True)
class Due:
    """One dated deadline of a case: its kind (KIND_LABELS), its date, and what to do by then."""

    kind: str
    date: date
    action: str

    @property
    def label(self) -> str:
        return kind_label(self.kind)

    def sort_key(self) -> tuple:
        return (self.date, KIND_ORDER.get(self.kind, 99), self.kind)


def case_deadlines(facts: CaseFacts, today: date, rules: Rules, routed=()) -> list[Due]:
    """The deadlines that matter today, soonest first: coming ones, and passed ones that still
    call for an action (a renewal not filed before the titre expires, an API not renewed, an
    OQTF within its month). A passed time limit that can no longer be met is not a deadline
    (the case page tells it as history). Resolved and closed cases have none.

    `routed`: the routing's deadlines, (kind, date, label) — they win over the same kind and date
    computed here, their wording being the lawyer-checked one."""
    if facts.closed:
        return []
    found: dict[tuple[str, date], Due] = {}

    def add(kind: str, day: date, action: str) -> None:
        found.setdefault((kind, day), Due(kind, day, action))

    for kind, day, label in routed:
        if day >= today or (kind == "OQTF" and today <= day + timedelta(days=OQTF_WATCH_DAYS)):
            found[(kind, day)] = Due(kind, day, ROUTED_ACTIONS.get(kind, label))

    events = _sorted(facts.events)
    expiry = titre_expiry_of(facts)
    spans = api_spans(facts, rules)
    granted = _first(events, "TITRE-OK")

    # The titre expires: the next day is without rights unless an API or a récépissé takes over.
    if expiry is not None and expiry >= today and not (granted and granted <= expiry):
        if not any(p.start <= expiry + ONE_DAY <= p.end for p in spans):
            add("TITRE", expiry, "Le titre expire : sans API ni récépissé remis d'ici là, la personne est sans "
                                 "droits dès le lendemain.")

    # The latest API: renew it before it lapses; once lapsed without a new one, it stays due.
    if spans:
        last = max(spans, key=lambda p: (p.start, p.end))
        # A decision (favourable, refusal, OQTF) ends the examination the API covered.
        if _first_event(events, DECISIONS, last.start) is None:
            assumed = (f" (fin supposée : {rules.api_validity_months} mois après sa délivrance, aucune « API "
                       "expirée » enregistrée)") if last.estimated else ""
            if last.end >= today:
                add("API", last.end, f"Dernier jour de l'API{assumed} : en demander le renouvellement avant, "
                                     "ou enregistrer la nouvelle API reçue.")
            else:
                add("API", last.end, f"L'API a pris fin{assumed} et aucune nouvelle API n'est enregistrée : en "
                                     "demander une sans attendre, ou enregistrer celle reçue.")

    # Renewal window (R. 431-5): due until the titre expires, unless a filing is recorded in or after it.
    window = renewal_window(expiry, rules) if _is_renewal(facts) else None
    if window is not None and today <= expiry and not (granted and granted >= window[0]):
        start, end = window
        if not any(day >= start for day in _filings(facts)):
            if today < start:
                action = (f"Déposer la demande de renouvellement sur l'ANEF entre le {date_long(start)} et le "
                          f"{date_long(end)}.")
            elif today <= end:
                action = "Déposer la demande de renouvellement sur l'ANEF au plus tard ce jour (fin de la période " \
                         "de dépôt)."
            else:
                action = (f"La période de dépôt est close : déposer la demande de renouvellement sans attendre, "
                          f"avant l'expiration du titre le {date_long(expiry)} (pas d'API d'office).")
            add("RENOUVELLEMENT", end, action)

    # Implicit rejection, then the window to challenge it — unless a decision came after the deposit.
    rejection = implicit_rejection(facts, rules)
    if rejection is not None and _first_event(events, DECISIONS, rejection.filed_on) is None:
        if today < rejection.rejection_on:
            add("REJET-IMPLICITE", rejection.rejection_on,
                "Sans réponse d'ici là, la demande est rejetée implicitement : préparer le recours et la demande "
                "des motifs.")
        elif today <= rejection.challenge_until:
            add("RECOURS", rejection.challenge_until,
                "Dernier jour pour contester le rejet implicite (recours pour excès de pouvoir, avec "
                "référé-suspension) ; demander les motifs avant cette date le proroge.")

    for event in events:
        if event.type == "AUDIENCE" and event.date >= today:
            add("AUDIENCE", event.date, "Audience devant le tribunal administratif : préparer le dossier et la "
                                        "venue de la personne.")
    return sorted(found.values(), key=Due.sort_key)


# --- the sentences of the case page -------------------------------------------------------------

def _days(n: int) -> str:
    return f"{n} jour{'s' if n > 1 else ''}"


def _in(today: date, day: date) -> str:
    """« aujourd'hui », « demain », « dans 12 jours »."""
    n = (day - today).days
    return "aujourd'hui" if n == 0 else "demain" if n == 1 else f"dans {_days(n)}"


def _from_to(start: date, end: date) -> str:
    return f"du {date_long(start)} au {date_long(end)}"


def date_sentences(facts: CaseFacts, today: date, rules: Rules) -> list[str]:
    """One French sentence per computed date, true today: days without rights (and the estimate
    apart), the implicit rejection and its challenge window, the renewal window (renewals only)."""
    sentences = _rights_sentences(facts, today, rules)
    sentences.append(_rejection_sentence(facts, today, rules))
    if facts.demarche in RENEWAL_DEMARCHES:
        sentences.append(_renewal_sentence(facts, today, rules))
    return sentences


def _rights_sentences(facts: CaseFacts, today: date, rules: Rules) -> list[str]:
    count = rights_count(facts, today, rules)
    expiry = count.expiry
    if expiry is None:
        return ["Jours sans droits : inconnus, la date d'expiration du titre n'a pas été renseignée."
                if facts.closed else
                "Jours sans droits : inconnus tant que la date d'expiration du titre n'est pas renseignée "
                "(« Modifier »)."]
    if count.days is None:
        return [f"Jours sans droits : inconnus après l'expiration du titre le {date_long(expiry)}, le dossier ayant "
                "été fermé sans aucun événement daté."]
    if expiry >= today and not facts.closed:
        left = "il expire aujourd'hui" if expiry == today else f"il expire {_in(today, expiry)}"
        return [f"Aucun jour sans droits : le titre est valide jusqu'au {date_long(expiry)} ({left})."]
    if count.days == 0:
        if count.end is not None and count.end <= expiry:
            return [f"Aucun jour sans droits : le titre expirait le {date_long(expiry)}, "
                    + ("la décision favorable est arrivée avant." if count.end_reason == "granted"
                       else "après le dernier événement enregistré du dossier.")]
        sentence = (f"Aucun jour sans droits depuis l'expiration du titre le {date_long(expiry)} : un document "
                    "valide a couvert chaque jour.")
    else:
        amount = f"{_days(count.days)} sans droits" + (f" ({duration_fr(count.days)})" if count.days > 30 else "")
        since = f"l'expiration du titre le {date_long(expiry)}"
        if count.end_reason == "granted":
            sentence = (f"{amount} entre {since} et la décision favorable du "
                        f"{date_long(count.end + ONE_DAY)} : la rupture de droits est terminée.")
        elif count.end_reason == "closed":
            status = "résolu" if facts.status == "RESOLU" else "clos"
            sentence = (f"{amount} entre {since} et le dernier événement enregistré, le {date_long(count.end)} "
                        f"(dossier {status} sans décision favorable enregistrée : la suite n'est pas comptée).")
        elif count.ongoing:
            sentence = (f"{amount} depuis {since}, et la rupture de droits dure toujours aujourd'hui : obtenir sans "
                        "attendre une API ou un récépissé.")
        else:
            api = count.current_api
            sentence = (f"{amount} depuis {since} ; aujourd'hui la personne est couverte"
                        + (f" par l'API valable jusqu'au {date_long(api.end)}." if api else "."))
    sentences = [sentence]
    if count.estimated_days:
        apis = count.estimated_apis
        months = rules.api_validity_months
        which = (f"l'API délivrée le {date_long(apis[0].start)} n'a pas de fin enregistrée ; elle est supposée "
                 f"valable {months} mois, jusqu'au {date_long(apis[0].end)}" if len(apis) == 1 else
                 "les API délivrées le " + ", le ".join(date_long(p.start) for p in apis)
                 + f" n'ont pas de fin enregistrée ; elles sont supposées valables {months} mois chacune")
        sentences.append(
            f"Estimation comptée à part : {which}. Si elles ont pris fin plus tôt, jusqu'à "
            f"{_days(count.estimated_days)} sans droits de plus : enregistrez « API expirée » pour un décompte exact."
            if len(apis) > 1 else
            f"Estimation comptée à part : {which}. Si elle a pris fin plus tôt, jusqu'à "
            f"{_days(count.estimated_days)} sans droits de plus : enregistrez « API expirée » pour un décompte exact.")
    return sentences


def _rejection_sentence(facts: CaseFacts, today: date, rules: Rules) -> str:
    months = rules.implicit_rejection_months
    filed = _first(facts.events, "DEPOT")
    if filed is None:
        return ("Rejet implicite : aucun dépôt complet enregistré." if facts.closed else
                f"Rejet implicite : aucun dépôt complet enregistré ; le silence de {months} mois se comptera à "
                "partir de l'événement « Dépôt réussi ».")
    deposit = f"Dépôt complet le {date_long(filed)}"
    rejection_on = add_months(filed, months)
    challenge_until = add_months(rejection_on, rules.challenge_window_months)
    decision = _first_event(facts.events, DECISIONS, filed)
    if decision is not None and decision.type == "TITRE-OK":
        if decision.date < rejection_on:
            return (f"{deposit} : décision favorable le {date_long(decision.date)}, "
                    f"{duration_fr((decision.date - filed).days)} plus tard ; pas de rejet implicite.")
        return (f"{deposit} : un rejet implicite était né le {date_long(rejection_on)}, avant la décision "
                f"favorable du {date_long(decision.date)}.")
    if decision is not None:
        what = "refus explicite" if decision.type == "REFUS" else "obligation de quitter le territoire"
        if facts.closed:
            return f"{deposit}, suivi d'une décision de {what} le {date_long(decision.date)}."
        return (f"{deposit} : {what} le {date_long(decision.date)} ; c'est cette décision, et non un rejet "
                "implicite, qu'il faut contester (le délai court de sa notification).")
    if facts.closed:
        if rejection_on <= today:
            return (f"{deposit} : sans décision enregistrée, un rejet implicite est né le {date_long(rejection_on)} "
                    "(dossier fermé : plus d'échéance suivie).")
        return f"{deposit} (dossier fermé avant la naissance d'un rejet implicite : plus d'échéance suivie)."
    if today < rejection_on:
        return (f"{deposit} : sans réponse, la demande sera rejetée implicitement le {date_long(rejection_on)} "
                f"({_in(today, rejection_on)}) ; ce rejet pourra être contesté jusqu'au {date_long(challenge_until)}.")
    if today == rejection_on:
        return (f"{deposit} : la demande est rejetée implicitement aujourd'hui ({months} mois sans réponse) ; la "
                f"contester, et en demander les motifs, au plus tard le {date_long(challenge_until)}.")
    if today < challenge_until:
        return (f"{deposit} : la demande est rejetée implicitement depuis le {date_long(rejection_on)} ; la contester "
                f"(recours pour excès de pouvoir, demande des motifs) au plus tard le {date_long(challenge_until)}, "
                f"{_in(today, challenge_until)}.")
    if today == challenge_until:
        return (f"{deposit} : dernier jour aujourd'hui pour contester le rejet implicite né le "
                f"{date_long(rejection_on)}.")
    return (f"{deposit} : rejet implicite né le {date_long(rejection_on)} ; le délai de recours de "
            f"{rules.challenge_window_months} mois a pris fin le {date_long(challenge_until)} (sauf si l'accusé de "
            "réception ne mentionnait pas les voies et délais de recours : voir avec un·e avocat·e).")


def _renewal_sentence(facts: CaseFacts, today: date, rules: Rules) -> str:
    expiry = titre_expiry_of(facts)
    if expiry is None:
        return "Période de dépôt du renouvellement : inconnue sans la date d'expiration du titre."
    start, end = renewal_window(expiry, rules)
    period = (f"{_from_to(start, end)} : {rules.renewal_start_days}e à {rules.renewal_end_days}e jour avant "
              f"l'expiration du titre, le {date_long(expiry)}")
    filings = _filings(facts)
    in_window = [d for d in filings if start <= d <= end]
    late = [d for d in filings if d > end]
    if facts.closed:
        done = (f" ; première démarche dans la période le {date_long(in_window[0])}." if in_window else
                f" ; première démarche après la période, le {date_long(late[0])}." if late else
                " ; aucune démarche enregistrée dans la période.")
        return f"Le renouvellement devait être demandé {period}{done}"
    if in_window:
        return (f"Renouvellement demandé dans les délais : démarche du {date_long(in_window[0])}, dans la période "
                f"de dépôt ({period}).")
    if late:
        return (f"Renouvellement demandé le {date_long(late[0])}, après la période de dépôt ({period}) : pas d'API "
                "d'office, et l'urgence devra être démontrée par les conséquences.")
    early = bool(filings)
    if today < start:
        if early:
            return (f"Les démarches enregistrées précèdent la période de dépôt : refaire une tentative {period}, "
                    "avec capture d'écran.")
        return f"La demande de renouvellement pourra être déposée sur l'ANEF {period}."
    if today < end:
        return (f"Période de dépôt ouverte ({period}) : déposer la demande de renouvellement sur l'ANEF au plus tard "
                f"le {date_long(end)}, {_in(today, end)}.")
    if today == end:
        return (f"Dernier jour aujourd'hui pour déposer la demande de renouvellement dans les délais "
                f"(période {_from_to(start, end)}).")
    if today <= expiry:
        return (f"La période de dépôt s'est terminée le {date_long(end)} sans démarche enregistrée "
                f"({_from_to(start, end)}) : déposer sans attendre, avant l'expiration du titre le "
                f"{date_long(expiry)} ; hors délai, pas d'API d'office.")
    return (f"Aucune demande de renouvellement enregistrée pendant la période de dépôt ({period}), ni avant "
            "l'expiration du titre.")
