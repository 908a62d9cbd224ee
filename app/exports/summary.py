"""The figures of a selection of cases: one computation for the dashboard, the workbook, the
dossier, a coalition's pooled files and the public page.

A figure filed before the Conseil d'État will be attacked (shared/domain.md « Aggregated
dossier »), so each one here holds on its own:
- every rate carries its numerator and denominator (« Dossiers » and « Sur » beside « Part »);
- days without rights stop at the case's resolution or closure, and days that rest on an
  assumed API validity are counted apart, never added in;
- a référé is won from its recorded outcome; pending ones are out of the rate, counted apart;
- months with no new case are shown (zero), from the first month to the export's month;
- the cases that never reached a deposit, absent from the Ministry's denominator, are counted;
- every count keeps the pseudonyms behind it (`Summary.traces`), for the traceability annex;
- an anonymised summary (`result(threshold=5)`) shows « < 5 » for counts of 1 to 4, drops the
  rates and traces that would reveal them, and suppresses a second cell where a single hidden
  one could be recomputed from the total.

`SummaryBuilder.add()` keeps a few numbers and the pseudonym per case (never names or texts),
so 100,000 cases summarise in a few tens of megabytes.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
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
# Events that prove the request reached the administration. A decision counts too, so that the
# never-deposited figure is a lower bound: it can be argued up, not down.
DEPOSIT_EVENTS = frozenset({"DEPOT", "API", "API-FIN", "REFUS", "TITRE-OK"})
UNKNOWN_MONTH = "date inconnue"
# What a file carries (its title says which): identities; pseudonyms with exact dates and exact
# counts (the association's own work); or months only, with counts below the threshold hidden.
IDENTIFIED, PSEUDONYMISED, ANONYMISED = "identifie", "pseudonymise", "anonymise"
VARIANT_LABELS = {
    IDENTIFIED: "données identifiantes",
    PSEUDONYMISED: "données pseudonymisées (identifiants pseudonymes, dates exactes)",
    ANONYMISED: "données anonymisées (dates au mois, effectifs inférieurs au seuil masqués)",
}
DEFAULT_THRESHOLD = 5

METHOD = [
    "Un dossier est une personne accompagnée par l'association pour une démarche bloquée sur l'ANEF. "
    "Les chiffres sont calculés à partir des chronologies saisies (dates des tentatives, erreurs, démarches "
    "et de leurs suites) ; un événement non saisi n'est pas compté.",
    "Jours bloqués : de la première tentative (date saisie ou premier événement « tentative » ou « erreur », "
    "à défaut l'ouverture du dossier) à la décision favorable, ou au dernier événement d'un dossier résolu ou "
    "clos, ou à la date de l'export pour un dossier encore ouvert.",
    "Jours sans droits : jours sans titre ni attestation de prolongation d'instruction (API) valides depuis "
    "l'expiration du titre, arrêtés à la décision favorable, ou au dernier événement d'un dossier résolu ou "
    "clos. Seuls les dossiers dont la date d'expiration est connue sont comptés. Quand la fin d'une API "
    "n'est pas enregistrée, sa durée de validité présumée est tenue pour couverte ; les jours qui en "
    "dépendent sont donnés à part, comme estimation, et ne sont jamais ajoutés au total.",
    "Demande jamais déposée : aucun dépôt, attestation de dépôt, API, refus ni décision favorable dans la "
    "chronologie. Ces personnes ne figurent pas parmi les « demandes déposées » sur lesquelles le ministère "
    "calcule ses taux. Un dossier dont une décision est enregistrée est compté comme déposé : le chiffre "
    "est un minimum.",
    "Démarche tentée : au moins un événement du type correspondant dans la chronologie ; « avec suite » : "
    "une réponse, une convocation, une attestation, un dépôt ou une décision favorable datés du même jour "
    "ou après ; « résolu » : décision favorable enregistrée ou dossier au statut résolu.",
    "Référé gagné : ordonnance enregistrée avec l'issue « injonction », ou exécution de l'ordonnance "
    "enregistrée ; l'issue saisie fait foi, jamais les mots d'une description. Un référé sans ordonnance, ou "
    "dont l'ordonnance n'a pas d'issue renseignée, est compté à part (« en attente ou issue non renseignée ») "
    "et exclu du dénominateur du taux, qui porte sur les référés dont l'issue est connue.",
    "Chaque taux est donné avec son numérateur (« Dossiers ») et son dénominateur (« Sur »). Médiane et "
    "90e centile : méthode « inclusive » (interpolation linéaire entre les valeurs observées).",
    "Les mois sans nouveau dossier figurent avec zéro, du premier mois observé au mois de l'export.",
    "Chaque chiffre renvoie à la liste des identifiants pseudonymes des dossiers qui le composent (annexe "
    "de traçabilité) ; seule l'association qui suit un dossier peut relier son pseudonyme à une personne.",
]
SUPPRESSION_NOTE = ("Effectifs de 1 à {k_1} masqués (« < {k} ») pour que personne ne soit reconnaissable ; "
                    "le taux et la liste d'identifiants correspondants sont alors omis, et une seconde case "
                    "est masquée quand la case masquée se déduirait du total.")


@dataclass(frozen=True, slots=True)
class CaseStats:
    """What the figures keep of one case: its pseudonym, codes, dates reduced to numbers, flags."""

    pseudonym: str
    prefecture: str
    demarche: str
    status: str
    titre: str
    blocages: tuple[str, ...]
    consequences: tuple[str, ...]
    onset_month: str | None
    opened_month: str | None
    days_blocked: int | None  # None: no date at all on the case
    days_without_rights: int | None  # certain days only; None without a known expiry
    estimated_days: int  # further days resting on an assumed API validity (counted apart)
    rights_ongoing: bool  # without a valid document on the export's day
    tried: frozenset[str]
    followed_up: frozenset[str]
    resolved: bool
    deposited: bool
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
    start = onset(row)
    if start is None and row.events:
        start = row.events[0].date
    days_blocked = None
    if start is not None:
        granted = next((e.date for e in row.events if e.type == "TITRE-OK" and e.date >= start), None)
        if granted is not None:
            end = granted
        elif row.status in CLOSED:
            end = max([e.date for e in row.events] + [start])
        else:
            end = today
        days_blocked = max(0, (end - start).days)
    facts = deadlines.CaseFacts(status=row.status, titre_expiry=row.titre_expiry,
                                events=tuple(deadlines.TimelineFact(e.date, e.type) for e in row.events))
    rights = deadlines.rights_count(facts, today, rules)
    tried, followed = set(), set()
    for remedy in REMEDIES:
        first = next((e.date for e in row.events if e.type == remedy), None)
        if first is None:
            continue
        tried.add(remedy)
        if any(e.type in FOLLOW_UPS and e.date >= first for e in row.events):
            followed.add(remedy)
    types = {e.type for e in row.events}
    month = start.strftime("%Y-%m") if start else None
    return CaseStats(
        pseudonym=row.pseudonym, prefecture=row.prefecture, demarche=row.demarche, status=row.status,
        titre=" ".join((row.titre_demande or row.titre_actuel).split()).lower()[:60],
        blocages=row.blocages, consequences=row.consequences, onset_month=month,
        opened_month=row.opened_on.strftime("%Y-%m") if row.opened_on else month,
        days_blocked=days_blocked, days_without_rights=rights.days, estimated_days=rights.estimated_days,
        rights_ongoing=rights.ongoing,
        tried=frozenset(tried), followed_up=frozenset(followed),
        resolved="TITRE-OK" in types or row.status == "RESOLU", deposited=bool(types & DEPOSIT_EVENTS),
        refere=row.refere_filed, refere_won=row.refere_won, refere_pending=row.refere_pending,
    )


@dataclass
class StatTable:
    """A titled table. `chart`: the column to plot; `counts` and `rates`: the columns that hold
    numbers of cases and fractions (what suppression hides); `traces[i]`: the key of row i's
    pseudonym list in `Summary.trace_ids`, or None; `partition`: the rows split the total (a
    single hidden cell could be recomputed from it)."""

    key: str
    title: str
    headers: list[str]
    rows: list[list]
    chart: int | None = None
    counts: tuple[int, ...] = (1,)
    rates: tuple[int, ...] = ()
    traces: list[str | None] = field(default_factory=list)
    partition: bool = False
    note: str = ""
    codes: list[str] = field(default_factory=list)  # counts tables: the code behind each row


@dataclass
class Scope:
    """Which cases a set of figures covers, said in the file itself."""

    org_names: list[str]
    included: int
    excluded_consent: int
    contributions: list[tuple[str, int]] = field(default_factory=list)  # (association, cases), pooled files

    def sentences(self, threshold: int | None = None) -> list[str]:
        out = [f"Dossiers couverts : {fmt_count(self.included)}."]
        if self.excluded_consent:
            out.append(f"{fmt_count(self.excluded_consent)} dossier(s) laissé(s) de côté : le consentement "
                       "recueilli exclut les statistiques ou a été retiré.")
        for name, n in self.contributions:
            shown = hidden(threshold) if threshold and 0 < n < threshold else fmt_count(n)
            out.append(f"Contribution de {name} : {shown} dossier(s).")
        return out


@dataclass
class Summary:
    total: int
    tables: list[StatTable]
    figures: list[tuple[str, str]]  # (label, formatted value) for the dashboard's tiles
    comparison: list[str]
    official: dict
    trace_ids: dict[str, list[str]]
    threshold: int | None = None  # set: an anonymised summary (small counts hidden)
    method: list[str] = field(default_factory=lambda: list(METHOD))
    by_departement: dict[str, int | None] = field(default_factory=dict)  # None: hidden (< threshold)

    def table(self, key: str) -> StatTable:
        return next(t for t in self.tables if t.key == key)

    @property
    def anonymised(self) -> bool:
        return self.threshold is not None

    def traces(self):
        """(table title, row label, count, pseudonyms) for every row that names its cases."""
        for table in self.tables:
            for row, key in zip(table.rows, table.traces, strict=False):
                if key is None:
                    continue
                ids = self.trace_ids.get(key, [])
                if ids:
                    yield table.title, str(row[0]), len(ids), ids


def percentile(values: list[int], q: int) -> float | None:
    """q-th percentile (inclusive method); None without data."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def share(part: int, total: int) -> float | None:
    """A fraction 0–1 (formatted as a percentage by each exporter); None when the denominator is 0."""
    return part / total if total else None


def pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}".replace(".", ",") + "\u00a0%"


def hidden(threshold: int) -> str:
    return f"< {threshold}"


def months_between(first: str, last: str) -> list[str]:
    """Every month « AAAA-MM » from first to last, both included."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


class SummaryBuilder:
    """Accumulate CaseStats one by one; `result()` builds the tables."""

    def __init__(self, labels: dict[str, dict[str, str]], official: dict | None = None, *,
                 today: date | None = None):
        self.labels = labels
        self.official = official or {}
        self.today = today or date.today()
        self.total = 0
        self.by: dict[str, Counter] = {k: Counter() for k in
                                       ("blocage", "primary", "prefecture", "demarche", "status", "titre",
                                        "month", "consequence")}
        self.ids: dict[str, list[str]] = defaultdict(list)
        self.days_blocked: list[int] = []
        self.days_without_rights: list[int] = []
        self.estimated_days: list[int] = []
        self.counts: Counter = Counter()

    def _count(self, key: str, pseudonym: str) -> None:
        self.counts[key] += 1
        self.ids[key].append(pseudonym)

    def add(self, s: CaseStats) -> None:
        self.total += 1
        p = s.pseudonym
        self._count("all", p)
        for kind, codes in (("blocage", s.blocages), ("consequence", s.consequences)):
            for code in dict.fromkeys(codes):
                self.by[kind][code] += 1
                self.ids[f"{kind}:{code}"].append(p)
        singles = (("primary", s.blocages[0] if s.blocages else "—"), ("prefecture", s.prefecture),
                   ("demarche", s.demarche), ("status", s.status), ("titre", s.titre or "(non renseigné)"),
                   ("month", s.opened_month or UNKNOWN_MONTH))
        for kind, value in singles:
            self.by[kind][value] += 1
            self.ids[f"{kind}:{value}"].append(p)
        if s.days_blocked is not None:
            self.days_blocked.append(s.days_blocked)
            self.ids["durations:blocked"].append(p)
        if s.days_without_rights is not None:
            self.days_without_rights.append(s.days_without_rights)
            self.ids["durations:rights"].append(p)
        if s.estimated_days:
            self.estimated_days.append(s.estimated_days)
            self.ids["durations:estimated"].append(p)
        for remedy in s.tried:
            self._count(f"tried:{remedy}", p)
            if remedy in s.followed_up:
                self._count(f"followed:{remedy}", p)
            if not s.resolved:
                self._count(f"unresolved:{remedy}", p)
        if "CCC" in s.tried and "CCC" not in s.followed_up:
            self._count("ccc:no_follow_up", p)
        if "CCC" not in s.tried:
            self._count("ccc:never", p)
        if not s.deposited:
            self._count("never_deposited", p)
            if not s.resolved and s.status not in CLOSED:
                self._count("never_deposited:open", p)
        if s.rights_ongoing:
            self._count("rights:ongoing", p)
        if s.resolved:
            self._count("resolved", p)
        if s.refere:
            self._count("refere:filed", p)
            if s.refere_pending:
                self._count("refere:pending", p)
            else:
                self._count("refere:decided", p)
                if s.refere_won:
                    self._count("refere:won", p)

    # --- tables ---------------------------------------------------------------------------------

    def _label(self, kind: str, code: str) -> str:
        return self.labels.get(kind, {}).get(code, code)

    def _counts(self, key: str, kind: str | None, title: str, first: str, *, months: bool = False) -> StatTable:
        counter = self.by[key]
        if months:
            known = sorted(m for m in counter if m != UNKNOWN_MONTH)
            last = max(known[-1] if known else "", self.today.strftime("%Y-%m"))
            order = months_between(known[0], last) if known else []
            if counter.get(UNKNOWN_MONTH):
                order.append(UNKNOWN_MONTH)
            items = [(m, counter.get(m, 0)) for m in order]
        else:
            items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        rows, traces = [], []
        for code, n in items:
            if kind == "prefecture":
                dep = departements.get(code)
                label = f"{code} – {dep.nom}" if dep else code
            elif kind and code != "—":
                label = f"{self._label(kind, code)} ({code})"
            else:
                label = code
            rows.append([label, n, self.total, share(n, self.total)])
            traces.append(f"{key}:{code}" if n else None)
        return StatTable(key, title, [first, "Dossiers", "Sur", "Part"], rows, chart=1, counts=(1, 2), rates=(3,),
                         traces=traces, partition=key not in ("blocage", "consequence"),
                         codes=[code for code, _ in items])

    def _ratio_table(self, key: str, title: str, first: str, lines) -> StatTable:
        """Rows of (label, numerator key, denominator key or int)."""
        rows, traces = [], []
        for label, num, den in lines:
            n = self.counts[num]
            d = den if isinstance(den, int) else self.counts[den]
            rows.append([label, n, d, share(n, d)])
            traces.append(num)
        return StatTable(key, title, [first, "Dossiers", "Sur", "Part"], rows, counts=(1, 2), rates=(3,),
                         traces=traces)

    def result(self, *, threshold: int | None = None) -> Summary:
        """The tables. `threshold`: an anonymised summary, counts below it hidden."""
        total = self.total
        c = self.counts
        key = self._ratio_table("key", "Chiffres clés", "Indicateur", [
            ("Dossiers", "all", total),
            ("Demande jamais déposée sur l'ANEF (aucun dépôt enregistré)", "never_deposited", total),
            ("… dont dossiers toujours ouverts", "never_deposited:open", "never_deposited"),
            ("Sans titre ni API valides à la date de l'export", "rights:ongoing", total),
            ("Dossiers résolus", "resolved", total),
        ])
        durations = StatTable("durations", "Durées (en jours)",
                              ["Indicateur", "Dossiers", "Médiane", "90e centile", "Maximum"], [], counts=(1,))
        for label, values, trace in (
                ("Jours bloqués", self.days_blocked, "durations:blocked"),
                ("Jours sans droits (arrêtés à la résolution ou à la clôture)", self.days_without_rights,
                 "durations:rights"),
                ("Estimation à part : jours sans droits supplémentaires si les API dont la fin n'est pas "
                 "enregistrée n'ont pas couvert leur durée présumée", self.estimated_days, "durations:estimated")):
            durations.rows.append([label, len(values), median(values), percentile(values, 90),
                                   max(values) if values else None])
            durations.traces.append(trace)
        durations.note = (f"{total - len(self.days_without_rights)} dossier(s) sans date d'expiration du titre "
                          "connue ne sont pas comptés dans les jours sans droits.")
        remedies = StatTable("remedies", "Démarches tentées et résultat",
                             ["Démarche", "Dossiers", "Sur", "Part", "Avec suite", "Sans suite", "Non résolus"],
                             [], chart=1, counts=(1, 2, 4, 5, 6), rates=(3,))
        for code in REMEDIES:
            n = c[f"tried:{code}"]
            remedies.rows.append([REMEDY_LABELS[code], n, total, share(n, total), c[f"followed:{code}"],
                                  n - c[f"followed:{code}"], c[f"unresolved:{code}"]])
            remedies.traces.append(f"tried:{code}")
        referes = self._ratio_table("referes", "Référés", "Indicateur", [
            ("Référés déposés", "refere:filed", total),
            ("Référés en attente ou issue non renseignée (exclus du taux)", "refere:pending", "refere:filed"),
            ("Référés dont l'issue est connue", "refere:decided", "refere:filed"),
            ("Référés gagnés (injonction ou exécution)", "refere:won", "refere:decided"),
        ])
        comparison = self._ratio_table("comparison", "Face au chiffre officiel de 0,4 %", "Indicateur", [
            ("Dossiers ayant contacté le CCC", "tried:CCC", total),
            ("… non résolus à la date de l'export", "unresolved:CCC", "tried:CCC"),
            ("… sans aucune suite (ni réponse, ni convocation, ni dépôt, ni décision)", "ccc:no_follow_up",
             "tried:CCC"),
            ("Dossiers n'ayant jamais contacté le CCC (absents de ses signalements)", "ccc:never", total),
            ("Demandes jamais déposées (absentes du dénominateur « demandes déposées »)", "never_deposited", total),
        ])
        tables = [key, durations, remedies, referes, comparison,
                  self._counts("primary", "blocage", "Dossiers par blocage principal", "Blocage"),
                  self._counts("blocage", "blocage", "Dossiers par blocage (tous les codes d'un dossier)", "Blocage"),
                  self._counts("prefecture", "prefecture", "Dossiers par préfecture", "Préfecture"),
                  self._counts("demarche", "demarche", "Dossiers par démarche", "Démarche"),
                  self._counts("titre", None, "Dossiers par catégorie de titre", "Titre"),
                  self._counts("status", "statut", "Dossiers par statut", "Statut"),
                  self._counts("month", None, "Nouveaux dossiers par mois", "Mois", months=True),
                  self._counts("consequence", "consequence", "Conséquences", "Conséquence")]
        method = list(METHOD)
        if threshold is not None:
            for table in tables:
                _suppress(table, threshold)
                if table.key == "titre":
                    # The titre is typed freely: a rare wording must not show either.
                    for row in table.rows:
                        if not isinstance(row[1], int):
                            row[0] = "(autre catégorie, effectif masqué)"
            method.append(SUPPRESSION_NOTE.format(k=threshold, k_1=threshold - 1))
        # The map reads the préfecture table after suppression: what it hides, the map hides.
        prefectures = next(t for t in tables if t.key == "prefecture")
        by_dep = {code: (row[1] if isinstance(row[1], int) else None)
                  for code, row in zip(prefectures.codes, prefectures.rows, strict=True)}
        summary = Summary(total, tables, [], [], self.official, self.ids, threshold, method, by_dep)
        summary.figures = _figures(summary)
        summary.comparison = comparison_sentences(summary)
        return summary


def _suppress(table: StatTable, k: int) -> None:
    """Hide counts 1…k-1 (and the rates and traces of their rows) in place; in a table whose rows
    split the total, hide a second cell when a single one is hidden."""
    hidden_rows = []
    for i, row in enumerate(table.rows):
        small = [j for j in table.counts if isinstance(row[j], int) and 0 < row[j] < k]
        if small:
            _hide_row(table, i, small, k)
            hidden_rows.append(i)
    if table.partition and len(hidden_rows) == 1:
        candidates = [(row[1], i) for i, row in enumerate(table.rows)
                      if i not in hidden_rows and isinstance(row[1], int) and row[1] > 0]
        if candidates:
            _, i = min(candidates)
            _hide_row(table, i, [1], k)
    if table.key == "durations":
        for row in table.rows:
            if not isinstance(row[1], int):
                row[2:] = [None] * (len(row) - 2)
            else:
                row[4] = None  # the maximum is one person's duration


def _hide_row(table: StatTable, i: int, columns: list[int], k: int) -> None:
    row = table.rows[i]
    for j in columns:
        row[j] = hidden(k)
    for j in table.rates:
        row[j] = None
    if i < len(table.traces):
        table.traces[i] = None


def fmt_count(value) -> str:
    """A number of cases as printed: « 1 234 », or the hidden marker as is."""
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u00a0")
    return str(value) if value is not None else "—"


def ratio(row: list) -> str:
    """« n / d (x %) » of a ratio row, the rate omitted when hidden."""
    text = f"{fmt_count(row[1])} / {fmt_count(row[2])}"
    return text + (f" ({pct(row[3])})" if row[3] is not None else "")


def _figures(summary: Summary) -> list[tuple[str, str]]:
    key = {r[0]: r for r in summary.table("key").rows}
    referes = {r[0]: r for r in summary.table("referes").rows}
    durations = summary.table("durations").rows
    won = referes["Référés gagnés (injonction ou exécution)"]
    pending = referes["Référés en attente ou issue non renseignée (exclus du taux)"][1]
    return [
        ("Dossiers", fmt_count(summary.total)),
        ("Demandes jamais déposées", ratio(key["Demande jamais déposée sur l'ANEF (aucun dépôt enregistré)"])),
        ("Jours bloqués (médiane)", _num(durations[0][2])),
        ("Jours sans droits (médiane)", _num(durations[1][2])),
        ("Référés gagnés / issue connue", f"{fmt_count(won[1])} / {fmt_count(won[2])}"
         + (f" ({fmt_count(pending)} en attente)" if pending else "")),
        ("Dossiers résolus", ratio(key["Dossiers résolus"])),
    ]


def official_quote(official: dict) -> str:
    """The Ministry's figure, in its own words, with its source."""
    if not official:
        return ""
    return (f"Le ministère de l'intérieur indique que {_thousands(official.get('reports'))} signalements ont été "
            f"transmis par le CCC sur {_thousands(official.get('requests'))} demandes déposées sur l'ANEF en "
            f"{official.get('year', '?')}, soit {str(official.get('rate_percent', '?')).replace('.', ',')}\u00a0%, "
            f"taux qu'il présente comme celui des demandes ayant connu un « {official.get('wording', '')} » "
            f"({official.get('citation', '')}). Ce n'est pas un taux de blocage : il ne compte que les blocages "
            "signalés au CCC et que celui-ci n'a pas résolus.")


def comparison_sentences(summary: Summary) -> list[str]:
    """Sentences setting the data beside the official 0.4 %: only what the data support, with limits."""
    official = summary.official
    if not summary.total:
        return ["Aucun dossier sélectionné : pas de comparaison possible avec le chiffre officiel."]
    rows = {r[0]: r for r in summary.table("comparison").rows}
    ccc = rows["Dossiers ayant contacté le CCC"]
    unresolved = rows["… non résolus à la date de l'export"]
    silent = rows["… sans aucune suite (ni réponse, ni convocation, ni dépôt, ni décision)"]
    never_ccc = rows["Dossiers n'ayant jamais contacté le CCC (absents de ses signalements)"]
    never_deposited = rows["Demandes jamais déposées (absentes du dénominateur « demandes déposées »)"]
    sentences = [official_quote(official)] if official else []
    sentences += [
        f"Dans les dossiers suivis, {ratio(ccc)} ont contacté le CCC ; parmi eux, {ratio(unresolved)} n'étaient "
        f"pas résolus à la date de l'export et {ratio(silent)} n'ont été suivis d'aucune réponse, convocation, "
        "dépôt ni décision.",
        f"{ratio(never_ccc)} n'ont jamais contacté le CCC : leurs blocages ne peuvent pas figurer parmi les "
        "signalements du CCC sur lesquels repose le chiffre officiel.",
        f"{ratio(never_deposited)} n'ont jamais pu déposer leur demande : ces personnes ne sont pas dans le "
        "dénominateur des « demandes déposées ».",
        "Limites : ces dossiers sont ceux que l'association accompagne, pas un échantillon des demandes ; ils "
        "ne mesurent pas un taux national et ne se comparent pas terme à terme au chiffre du ministère. Ils "
        "montrent des blocages que ce chiffre, par sa définition, ne compte pas.",
    ]
    return sentences


def _thousands(value) -> str:
    return f"{value:,}".replace(",", "\u00a0") if isinstance(value, int) else "?"


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}".replace(".", ",")


def summarise(rows, today: date, rules: deadlines.Rules, labels, official=None, *,
              threshold: int | None = None) -> Summary:
    """Summary of an iterable of CaseRow (convenience for tests and small selections)."""
    builder = SummaryBuilder(labels, official, today=today)
    for row in rows:
        builder.add(case_stats(row, today, rules))
    return builder.result(threshold=threshold)
