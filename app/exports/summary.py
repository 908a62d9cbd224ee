"""The Synthèse: counts, durations and remedies computed from CaseRow, pure and streaming.

`SummaryBuilder.add()` keeps a few numbers per case (never names or texts), so 100,000
cases summarise in a few megabytes; `result()` gives tables every exporter renders alike.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from app.cases import deadlines
from app.core import departements
from app.exports.rows import CaseRow

REMEDIES = ("CCC", "PAN", "PREF", "SUBST", "DDD")
REMEDY_LABELS = {
    "CCC": "Centre de contact citoyen (CCC)",
    "PAN": "Point d'accueil numérique (PAN)",
    "PREF": "Préfecture saisie (courriel, LRAR)",
    "SUBST": "Solution de substitution demandée",
    "DDD": "Défenseur des droits saisi",
}
# Events that show the administration moved after a remedy.
FOLLOW_UPS = frozenset({"REPONSE", "CONVOC", "API", "DEPOT", "TITRE-OK"})
ONSET_EVENTS = frozenset({"TENTATIVE", "ERREUR"})
CLOSED = frozenset({"RESOLU", "CLOS"})

METHOD = [
    "Jours bloqués : de la première tentative (date saisie ou premier événement « tentative » ou "
    "« erreur », à défaut l'ouverture du dossier) à la décision favorable, ou au dernier événement "
    "d'un dossier résolu ou clos, ou à la date de l'export pour un dossier encore ouvert.",
    "Jours sans droits : jours sans titre ni attestation de prolongation d'instruction valides depuis "
    "l'expiration du titre (seuls les dossiers dont la date d'expiration est connue sont comptés).",
    "Démarche tentée : au moins un événement du type correspondant dans la chronologie ; « avec suite » : "
    "une réponse, une convocation, une attestation, un dépôt ou une décision favorable datés du même jour "
    "ou après ; « résolu » : décision favorable enregistrée ou dossier au statut résolu.",
    "Référé gagné : ordonnance enregistrée avec l'issue « injonction », ou exécution de l'ordonnance enregistrée ; "
    "l'issue saisie fait foi, jamais les mots d'une description. Un référé sans ordonnance, ou dont l'ordonnance "
    "n'a pas d'issue renseignée, est compté à part (« en attente ou issue non renseignée ») et exclu du "
    "dénominateur du taux, qui porte sur les référés dont l'issue est connue.",
    "Médiane et 90e centile : méthode « inclusive » (interpolation linéaire entre les valeurs observées).",
]


@dataclass(frozen=True, slots=True)
class CaseStats:
    """What the Synthèse keeps of one case: codes, dates reduced to numbers, flags."""

    prefecture: str
    demarche: str
    status: str
    titre: str
    blocages: tuple[str, ...]
    consequences: tuple[str, ...]
    onset_month: str
    opened_month: str
    days_blocked: int
    days_without_rights: int | None
    tried: frozenset[str]
    followed_up: frozenset[str]
    resolved: bool
    refere: bool
    refere_won: bool
    refere_pending: bool  # no ordonnance yet, or its outcome not recorded: out of the win rate


def onset(row: CaseRow) -> date | None:
    dates = [e.date for e in row.events if e.type in ONSET_EVENTS]
    if row.first_attempt:
        dates.append(row.first_attempt)
    return min(dates) if dates else row.opened_on


def case_stats(row: CaseRow, today: date, rules: deadlines.Rules) -> CaseStats:
    """Reduce one case to its numbers (see METHOD)."""
    start = onset(row) or today
    granted = next((e.date for e in row.events if e.type == "TITRE-OK" and e.date >= start), None)
    if granted is not None:
        end = granted
    elif row.status in CLOSED:
        end = max([e.date for e in row.events] + [start])
    else:
        end = today
    facts = deadlines.CaseFacts(status=row.status, titre_expiry=row.titre_expiry,
                                events=tuple(deadlines.TimelineFact(e.date, e.type) for e in row.events))
    tried, followed = set(), set()
    for remedy in REMEDIES:
        first = next((e.date for e in row.events if e.type == remedy), None)
        if first is None:
            continue
        tried.add(remedy)
        if any(e.type in FOLLOW_UPS and e.date >= first for e in row.events):
            followed.add(remedy)
    types = {e.type for e in row.events}
    month = start.strftime("%Y-%m")
    return CaseStats(
        prefecture=row.prefecture, demarche=row.demarche, status=row.status,
        titre=" ".join((row.titre_demande or row.titre_actuel).split()).lower()[:60],
        blocages=row.blocages, consequences=row.consequences, onset_month=month,
        opened_month=row.opened_on.strftime("%Y-%m") if row.opened_on else month,
        days_blocked=max(0, (end - start).days),
        days_without_rights=deadlines.days_without_rights(facts, today, rules),
        tried=frozenset(tried), followed_up=frozenset(followed),
        resolved="TITRE-OK" in types or row.status == "RESOLU",
        refere=row.refere_filed, refere_won=row.refere_won, refere_pending=row.refere_pending,
    )


@dataclass
class StatTable:
    """A titled table; `chart` names the column to plot (index into headers) or None."""

    key: str
    title: str
    headers: list[str]
    rows: list[list]
    chart: int | None = None


@dataclass
class Summary:
    total: int
    tables: list[StatTable]
    figures: list[tuple[str, str]]  # (label, formatted value) for the dashboard's tiles
    comparison: list[str]
    method: list[str] = field(default_factory=lambda: list(METHOD))

    def table(self, key: str) -> StatTable:
        return next(t for t in self.tables if t.key == key)


def percentile(values: list[int], q: int) -> float | None:
    """q-th percentile (inclusive method); None without data."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def share(part: int, total: int) -> float:
    """A fraction 0–1 (formatted as a percentage by each exporter)."""
    return part / total if total else 0.0


def pct(value: float) -> str:
    return f"{value * 100:.1f}".replace(".", ",") + "\u00a0%"


class SummaryBuilder:
    """Accumulate CaseStats one by one; `result()` builds the tables."""

    def __init__(self, labels: dict[str, dict[str, str]], official: dict | None = None):
        self.labels = labels
        self.official = official or {}
        self.total = 0
        self.by: dict[str, Counter] = {k: Counter() for k in
                                       ("blocage", "primary", "prefecture", "demarche", "status", "titre",
                                        "month", "consequence")}
        self.days_blocked: list[int] = []
        self.days_without_rights: list[int] = []
        self.tried: Counter = Counter()
        self.followed: Counter = Counter()
        self.resolved_after: Counter = Counter()
        self.referes = self.referes_won = self.referes_pending = self.resolved = 0

    def add(self, s: CaseStats) -> None:
        self.total += 1
        by = self.by
        for code in s.blocages:
            by["blocage"][code] += 1
        if s.blocages:
            by["primary"][s.blocages[0]] += 1
        by["prefecture"][s.prefecture] += 1
        by["demarche"][s.demarche] += 1
        by["status"][s.status] += 1
        by["titre"][s.titre or "(non renseigné)"] += 1
        by["month"][s.opened_month] += 1
        for code in s.consequences:
            by["consequence"][code] += 1
        self.days_blocked.append(s.days_blocked)
        if s.days_without_rights is not None:
            self.days_without_rights.append(s.days_without_rights)
        for remedy in s.tried:
            self.tried[remedy] += 1
            if remedy in s.followed_up:
                self.followed[remedy] += 1
            if s.resolved:
                self.resolved_after[remedy] += 1
        self.referes += s.refere
        self.referes_won += s.refere_won
        self.referes_pending += s.refere_pending
        self.resolved += s.resolved

    def _label(self, kind: str, code: str) -> str:
        return self.labels.get(kind, {}).get(code, code)

    def _counts(self, key: str, kind: str | None, title: str, first: str, sort_by_key: bool = False) -> StatTable:
        counter = self.by[key]
        items = sorted(counter.items()) if sort_by_key else sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = []
        for code, n in items:
            if kind == "prefecture":
                dep = departements.get(code)
                label = f"{code} – {dep.nom}" if dep else code
            elif kind:
                label = f"{self._label(kind, code)} ({code})"
            else:
                label = code
            rows.append([label, n, share(n, self.total)])
        return StatTable(key, title, [first, "Dossiers", "Part"], rows, chart=1)

    def result(self) -> Summary:
        total = self.total
        tables = [
            self._counts("primary", "blocage", "Dossiers par blocage principal", "Blocage"),
            self._counts("blocage", "blocage", "Dossiers par blocage (tous les codes d'un dossier)", "Blocage"),
            self._counts("prefecture", "prefecture", "Dossiers par préfecture", "Préfecture"),
            self._counts("demarche", "demarche", "Dossiers par démarche", "Démarche"),
            self._counts("titre", None, "Dossiers par catégorie de titre", "Titre"),
            self._counts("status", "statut", "Dossiers par statut", "Statut"),
            self._counts("month", None, "Nouveaux dossiers par mois", "Mois", sort_by_key=True),
            self._counts("consequence", "consequence", "Conséquences", "Conséquence"),
        ]
        durations = StatTable("durations", "Durées (en jours)", ["Indicateur", "Dossiers", "Médiane", "90e centile",
                                                                  "Maximum"], [])
        for label, values in (("Jours bloqués", self.days_blocked),
                              ("Jours sans droits", self.days_without_rights)):
            durations.rows.append([label, len(values), median(values), percentile(values, 90),
                                   max(values) if values else None])
        tables.insert(0, durations)
        remedies = StatTable("remedies", "Démarches tentées et résultat",
                             ["Démarche", "Dossiers", "Part", "Avec suite", "Sans suite", "Résolus"], [], chart=1)
        for code in REMEDIES:
            n = self.tried[code]
            remedies.rows.append([REMEDY_LABELS[code], n, share(n, total), self.followed[code],
                                  n - self.followed[code], self.resolved_after[code]])
        tables.insert(1, remedies)
        # Each rate names its denominator ("Sur"); a référé whose outcome is unknown is counted
        # apart and left out of the win rate.
        decided = self.referes - self.referes_pending
        referes = StatTable("referes", "Référés", ["Indicateur", "Dossiers", "Sur", "Part"], [
            ["Référés déposés", self.referes, total, share(self.referes, total)],
            ["Référés en attente ou issue non renseignée", self.referes_pending, self.referes,
             share(self.referes_pending, self.referes)],
            ["Référés dont l'issue est connue", decided, self.referes, share(decided, self.referes)],
            ["Référés gagnés (injonction ou exécution)", self.referes_won, decided, share(self.referes_won, decided)],
        ])
        tables.insert(2, referes)
        d_med = durations.rows[0][2]
        r_med = durations.rows[1][2]
        figures = [
            ("Dossiers", f"{total}"),
            ("Jours bloqués (médiane)", _num(d_med)),
            ("Jours bloqués (90e centile)", _num(durations.rows[0][3])),
            ("Jours sans droits (médiane)", _num(r_med)),
            ("Référés gagnés / issue connue", f"{self.referes_won} / {decided}"
             + (f" ({self.referes_pending} en attente)" if self.referes_pending else "")),
            ("Dossiers résolus", f"{self.resolved} ({pct(share(self.resolved, total))})"),
        ]
        return Summary(total, tables, figures, self.comparison())

    def comparison(self) -> list[str]:
        """Sentences setting the data beside the official 0.4 % (only what the data support)."""
        rate = self.official.get("rate_percent")
        if not self.total or rate is None:
            return ["Aucun dossier sélectionné : pas de comparaison possible avec le taux officiel."]
        ccc, followed = self.tried["CCC"], self.followed["CCC"]
        unsolved = ccc - self.resolved_after["CCC"]
        sentences = [
            f"Le ministère présente un taux de blocage de {str(rate).replace('.', ',')}\u00a0% "
            f"({_thousands(self.official.get('reports'))} {self.official.get('source', '')}, sur "
            f"{_thousands(self.official.get('requests'))} demandes en {self.official.get('year', '?')}).",
            f"Dans la sélection, {ccc} dossier(s) sur {self.total} ({pct(share(ccc, self.total))}) ont contacté le CCC ; "
            f"{unsolved} n'étaient pas résolus à la date de l'export ({pct(share(unsolved, ccc))} des contacts), "
            f"et {ccc - followed} n'ont été suivis d'aucune réponse ni convocation.",
            f"{self.total - ccc} dossier(s) ({pct(share(self.total - ccc, self.total))}) n'ont jamais contacté le CCC : "
            "ces blocages ne peuvent pas figurer dans les signalements transmis par le CCC, sur lesquels repose le taux officiel.",
            "Ces chiffres portent sur les dossiers suivis par l'association, pas sur l'ensemble des demandes : "
            "ils ne mesurent pas un taux national, ils montrent ce que le taux officiel ne compte pas.",
        ]
        return sentences


def _thousands(value) -> str:
    return f"{value:,}".replace(",", "\u00a0") if isinstance(value, int) else "?"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}".replace(".", ",")


def summarise(rows, today: date, rules: deadlines.Rules, labels, official=None) -> Summary:
    """Summary of an iterable of CaseRow (convenience for the dashboard and the dossier)."""
    builder = SummaryBuilder(labels, official)
    for row in rows:
        builder.add(case_stats(row, today, rules))
    return builder.result()
