"""`cases import`: spreadsheets (.xlsx sheet « Cas » + « Chronologie ») or CSV, all or nothing.

Every row is checked before anything is written; one bad row imports nothing, and the
report names every bad row, column and reason.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from app.audit import services as audit
from app.cases import deadlines
from app.cases.models import Case, CaseCode, Event, Person
from app.cases.services import (PERSON_FIELDS, CaseInput, clean_text, next_reference, rules,
                                validate_input)
from app.cases.taxonomy import Taxonomy
from app.core import departements
from app.core.clock import today as clock_today
from app.core.spreadsheet import CASE_COLUMNS, EVENT_COLUMNS, EVENT_OPTIONAL_COLUMNS, unneutralise
from app.extensions import db
from app.jobs.services import counted
from app.legal.codes import OUTCOMES_BY_TYPE, outcome_error
from app.search.models import IndexOutbox

FIELD_COLUMNS = {  # CaseInput field -> column, to place service errors in the report
    "reference": "Référence", "last_name": "Nom", "first_name": "Prénom", "birth_date": "Date de naissance",
    "nationality": "Nationalité", "numero_etranger": "Numéro étranger", "phone": "Téléphone",
    "email": "Courriel", "prefecture": "Préfecture", "demarche": "Démarche", "titre_actuel": "Titre",
    "titre_expiry": "Expiration du titre", "anef_number": "Numéro de demande ANEF", "blocages": "Blocage",
    "status": "Statut", "first_attempt": "Première tentative", "consequences": "Conséquences",
    "narrative": "Récit",
}
MAX_ROWS = 100_000
# In a CSV, only what a spreadsheet program would really run is refused: a function call
# (« =HYPERLINK( », « =cmd| »), a cell reference (« =A1 », « =Feuil1!B2 ») or arithmetic
# (« =1+2 »). A narrative that merely starts with « = » (« = rendez-vous annulé ») is text.
CSV_FORMULA = re.compile(
    r"""^=\s*(?:[A-Za-z_][\w.]*\s*[(|!]"""          # function call, DDE (=cmd|…), sheet reference
    r"""|\$?[A-Za-z]{1,3}\$?\d+\b"""                # A1, $B$2
    r"""|[-+]?[\d.,]+\s*[-+*/^&]\s*[-+]?[\w.,$]+\s*$)"""  # =1+2, =2*A1
)


def is_csv_formula(text: str) -> bool:
    """True for a CSV cell a spreadsheet program would evaluate as a formula."""
    return bool(CSV_FORMULA.match(text))


@dataclass
class Problem:
    sheet: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [f"feuille « {self.sheet} »"]
        if self.row:
            where.append(f"ligne {self.row}")
        if self.column:
            where.append(f"colonne « {self.column} »")
        return f"{', '.join(where)} : {self.reason}"


@dataclass
class ImportReport:
    problems: list[Problem] = field(default_factory=list)
    cases: int = 0
    events: int = 0
    references: list[str] = field(default_factory=list)
    dry_run: bool = False
    # What would be created, row by row, without identity (the web preview): filled by every run.
    preview: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class ImportRefused(Exception):
    def __init__(self, report: ImportReport):
        super().__init__(f"{len(report.problems)} problème(s)")
        self.report = report


# --- reading -------------------------------------------------------------------------------

def _read_xlsx(data: bytes, report: ImportReport):
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        report.problems.append(Problem("—", None, None,
                                       f"fichier illisible : ce n'est pas un classeur Excel valide ({type(exc).__name__})."))
        return None, None
    if "Cas" not in workbook.sheetnames:
        report.problems.append(Problem("Cas", None, None,
                                       f"feuille « Cas » absente (feuilles trouvées : {', '.join(workbook.sheetnames)[:200]})."))
        return None, None
    cases = _sheet_rows(workbook["Cas"], "Cas", report)
    events = _sheet_rows(workbook["Chronologie"], "Chronologie", report) if "Chronologie" in workbook.sheetnames else []
    return cases, events


def _sheet_rows(sheet, name: str, report: ImportReport) -> list[tuple[int, list]]:
    rows = []
    for number, row in enumerate(sheet.iter_rows(), start=1):
        values = []
        for cell in row:
            if getattr(cell, "data_type", None) == "f":
                column = rows[0][1][len(values)] if rows and len(values) < len(rows[0][1]) else None
                report.problems.append(Problem(name, number, column,
                                               "formule interdite : saisissez la valeur, pas une formule."))
                values.append("")
            else:
                values.append(cell.value)
        if number > MAX_ROWS + 1:
            report.problems.append(Problem(name, number, None, f"plus de {MAX_ROWS} lignes : découpez le fichier."))
            break
        rows.append((number, values))
    return rows


def _read_csv(data: bytes, report: ImportReport):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.problems.append(Problem("CSV", None, None, "le fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 »."))
        return None, None
    if "\x00" in text:
        report.problems.append(Problem("CSV", None, None, "fichier illisible : ce n'est pas un fichier texte CSV."))
        return None, None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text), dialect), start=1)]
    except csv.Error as exc:
        report.problems.append(Problem("CSV", None, None, f"fichier CSV mal formé ({exc})."))
        return None, None
    if len(rows) > MAX_ROWS + 1:
        report.problems.append(Problem("CSV", None, None, f"plus de {MAX_ROWS} lignes : découpez le fichier."))
        return None, None
    return rows, []


def _header(rows, expected: list[str], sheet: str, report: ImportReport,
            optional: list[str] | tuple[str, ...] = ()) -> dict[str, int] | None:
    if not rows:
        report.problems.append(Problem(sheet, None, None, "feuille vide : la ligne d'en-tête est absente."))
        return None
    header = [str(v).strip() if v is not None else "" for v in rows[0][1]]
    positions = {name: i for i, name in enumerate(header) if name}
    missing = [c for c in expected if c not in positions]
    unknown = [c for c in positions if c not in expected and c not in optional]
    if missing:
        report.problems.append(Problem(sheet, 1, None, "en-tête incorrect : colonne(s) manquante(s) « "
                                       + " », « ".join(missing) + " »."))
    if unknown:
        report.problems.append(Problem(sheet, 1, None, "en-tête incorrect : colonne(s) inconnue(s) « "
                                       + " », « ".join(u[:40] for u in unknown[:10]) + " »."))
    return None if missing or unknown else positions


# --- parsing cells -------------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    return unneutralise(clean_text(str(value)))


def _date(value) -> date:
    """JJ/MM/AAAA, AAAA-MM-JJ or a spreadsheet date; ValueError with a French message otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for parse in (lambda t: datetime.strptime(t, "%d/%m/%Y").date(), date.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    raise ValueError(f"date invalide « {text[:20]} » : attendu JJ/MM/AAAA ou AAAA-MM-JJ.")


def _codes(value: str, kind: str, taxonomy: Taxonomy) -> tuple[list[str], list[str]]:
    codes, unknown = [], []
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        code = taxonomy.resolve(kind, part)
        (codes if code else unknown).append(code or part)
    return codes, unknown


def _key(text: str) -> str:
    """Lower case, no accents, letters and digits only: « L. 521-3 » and « l521-3 » meet."""
    folded = unicodedata.normalize("NFKD", text.lower())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if not unicodedata.combining(c)))


# The `Issue` column takes the codes (any case), their labels, and the words people type.
OUTCOME_WORDS = {
    "INJONCTION": ("injonction", "injonction prononcée"),
    "NON-LIEU": ("non-lieu", "non lieu à statuer"),
    "DESISTEMENT": ("désistement",),
    "L521-3": ("L. 521-3", "mesures utiles", "référé mesures utiles", "référé-mesures utiles"),
    "L521-1": ("L. 521-1", "suspension", "référé-suspension", "référé suspension"),
    "L521-2": ("L. 521-2", "liberté", "référé-liberté", "référé liberté"),
}
OUTCOME_KEYS = {_key(word): code for code, words in OUTCOME_WORDS.items() for word in words}
OUTCOME_KEYS.update({_key(v): code for labels in OUTCOMES_BY_TYPE.values() for code, label in labels.items()
                     for v in (code, label)})


def resolve_outcome(value: str) -> str | None:
    """The outcome code of an `Issue` cell (code, label or common word); None if unknown."""
    return OUTCOME_KEYS.get(_key(value)) if value else None


@dataclass
class ParsedCase:
    row: int
    data: CaseInput
    # (row, date, type, description, outcome)
    events: list[tuple[int, date, str, str, str]] = field(default_factory=list)


def _parse_case_row(number: int, values: list, positions: dict[str, int], taxonomy: Taxonomy,
                    today: date, report: ImportReport, *, from_csv: bool = False) -> ParsedCase | None:
    def cell(column):
        i = positions[column]
        return values[i] if i < len(values) else None

    if all(v is None or str(v).strip() == "" for v in values):
        return None
    problems_before = len(report.problems)

    def bad(column, reason):
        report.problems.append(Problem("Cas", number, column, reason))

    # A spreadsheet's text cell is text even when it starts with « = » (real formula cells were
    # refused while reading, by their type); a CSV has no types, so only clear formulas are refused.
    # Stored text is safe either way: every export neutralises formulas on the way out.
    for column, i in positions.items():
        raw = values[i] if i < len(values) else None
        if from_csv and isinstance(raw, str) and is_csv_formula(raw.strip()):
            bad(column, "formule interdite : saisissez la valeur, pas une formule (ou précédez-la d'une apostrophe).")

    dates = {}
    for column, name in (("Date de naissance", "birth_date"), ("Expiration du titre", "titre_expiry"),
                         ("Première tentative", "first_attempt")):
        raw = cell(column)
        if raw is None or str(raw).strip() == "":
            dates[name] = None
            continue
        try:
            dates[name] = _date(raw)
        except ValueError as exc:
            bad(column, str(exc))
    for column in ("Préfecture", "Démarche", "Blocage", "Statut"):
        if not _text(cell(column)):
            bad(column, "valeur obligatoire manquante.")
    blocages, unknown = _codes(_text(cell("Blocage")), "blocage", taxonomy)
    for u in unknown:
        bad("Blocage", f"blocage inconnu « {u[:40]} » (codes de shared/domain.md, séparés par « ; »).")
    consequences, unknown = _codes(_text(cell("Conséquences")), "consequence", taxonomy)
    for u in unknown:
        bad("Conséquences", f"conséquence inconnue « {u[:40]} ».")
    demarche_raw, statut_raw = _text(cell("Démarche")), _text(cell("Statut"))
    demarche = taxonomy.resolve("demarche", demarche_raw) if demarche_raw else ""
    statut = taxonomy.resolve("statut", statut_raw) if statut_raw else ""
    if demarche_raw and not demarche:
        bad("Démarche", f"démarche inconnue « {demarche_raw[:40]} ».")
    if statut_raw and not statut:
        bad("Statut", f"statut inconnu « {statut_raw[:40]} ».")
    data = CaseInput(
        reference=_text(cell("Référence")), last_name=_text(cell("Nom")), first_name=_text(cell("Prénom")),
        nationality=_text(cell("Nationalité")), numero_etranger=_text(cell("Numéro étranger")).replace(" ", ""),
        phone=_text(cell("Téléphone")), email=_text(cell("Courriel")), prefecture=_text(cell("Préfecture")),
        demarche=demarche, titre_actuel=_text(cell("Titre")), anef_number=_text(cell("Numéro de demande ANEF")),
        blocages=blocages, status=statut, consequences=consequences, narrative=_text(cell("Récit")), **dates,
    )
    reported = {p.column for p in report.problems[problems_before:]}
    for name, message in validate_input(data, taxonomy, today).items():
        column = FIELD_COLUMNS.get(name)
        if column not in reported:  # one reason per cell is enough
            bad(column, message[0].lower() + message[1:])
    if len(report.problems) > problems_before:
        return None
    return ParsedCase(number, data)


# --- the import ----------------------------------------------------------------------------

def import_file(path: Path, org, actor=None, *, dry_run: bool = False, max_bytes: int = 10 * 1024 * 1024,
                today: date | None = None, progress=None) -> ImportReport:
    """Check the whole file, then (unless dry_run) create every case in the current
    transaction. Raises ImportRefused with the report when anything is wrong.

    `progress(done, total)` follows the check of the case rows (a background import's page).
    The writing that follows reports nothing: on SQLite another connection could not write the
    progress while this transaction holds the database."""
    report = ImportReport(dry_run=dry_run)
    today = today or clock_today()
    path = Path(path)
    if not path.is_file():
        report.problems.append(Problem("—", None, None, f"fichier introuvable : {path.name}"))
        raise ImportRefused(report)
    size = path.stat().st_size
    if size > max_bytes:
        report.problems.append(Problem("—", None, None,
                                       f"fichier trop volumineux ({size // 1024} Ko ; maximum {max_bytes // 1024} Ko)."))
        raise ImportRefused(report)
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        case_rows, event_rows = _read_xlsx(data, report)
    elif suffix == ".csv":
        case_rows, event_rows = _read_csv(data, report)
    else:
        report.problems.append(Problem("—", None, None, "format non pris en charge : fournissez un fichier .xlsx ou .csv."))
        raise ImportRefused(report)
    if case_rows is None:
        raise ImportRefused(report)
    sheet = "Cas" if suffix == ".xlsx" else "CSV"
    positions = _header(case_rows, CASE_COLUMNS, sheet, report)
    event_positions = (_header(event_rows, EVENT_COLUMNS, "Chronologie", report, EVENT_OPTIONAL_COLUMNS)
                       if event_rows else {})
    if positions is None or event_positions is None:
        raise ImportRefused(report)

    taxonomy = Taxonomy(org.id)
    parsed: list[ParsedCase] = []
    for number, values in counted(case_rows[1:], len(case_rows) - 1, progress):
        item = _parse_case_row(number, values, positions, taxonomy, today, report, from_csv=suffix == ".csv")
        if item is not None:
            parsed.append(item)
    if not parsed and not report.problems:
        report.problems.append(Problem(sheet, None, None, "aucune ligne de dossier : le fichier ne contient que l'en-tête."))

    # References: unique in the file and in the association.
    by_reference: dict[str, ParsedCase] = {}
    existing = set(db.session.scalars(select(Case.reference).where(Case.org_id == org.id)))
    for item in parsed:
        ref = item.data.reference
        if not ref:
            continue
        if len(ref) > 32:
            report.problems.append(Problem(sheet, item.row, "Référence", "référence de plus de 32 caractères."))
        elif ref in by_reference:
            report.problems.append(Problem(sheet, item.row, "Référence",
                                           f"référence « {ref} » en double (déjà ligne {by_reference[ref].row})."))
        elif ref in existing:
            report.problems.append(Problem(sheet, item.row, "Référence", f"la référence « {ref} » existe déjà dans l'association."))
        else:
            by_reference[ref] = item

    for number, values in event_rows[1:] if event_rows else []:
        _parse_event_row(number, values, event_positions, by_reference, taxonomy, today, report)

    if report.problems:
        raise ImportRefused(report)
    report.preview = [{
        "row": item.row, "reference": item.data.reference, "prefecture": departements.resolve(item.data.prefecture),
        "demarche": item.data.demarche, "status": item.data.status, "blocage": item.data.blocages[0],
        "events": len(item.events), "identity": item.data.has_person(),
    } for item in parsed]
    report.cases = len(parsed)
    report.events = sum(len(p.events) for p in parsed)
    if dry_run:
        return report
    if progress is not None:
        progress(report.cases, report.cases)  # renews a background job's lease just before the writing
    _create_all(org, parsed, actor, today, report)
    return report


def _parse_event_row(number, values, positions, by_reference, taxonomy, today, report) -> None:
    def cell(column):
        i = positions.get(column)
        return values[i] if i is not None and i < len(values) else None

    if all(v is None or str(v).strip() == "" for v in values):
        return
    ref, raw_type, raw_date = _text(cell("Référence")), _text(cell("Type")), cell("Date")
    bad = lambda column, reason: report.problems.append(Problem("Chronologie", number, column, reason))  # noqa: E731
    target = by_reference.get(ref)
    if target is None:
        bad("Référence", f"aucun dossier « {ref[:40]} » dans la feuille « Cas »." if ref else "référence manquante.")
    code = taxonomy.resolve("evenement", raw_type) if raw_type else None
    if not code:
        bad("Type", f"type d'événement inconnu « {raw_type[:40]} »." if raw_type else "type manquant.")
    when = None
    if raw_date is None or str(raw_date).strip() == "":
        bad("Date", "date manquante.")
    else:
        try:
            when = _date(raw_date)
        except ValueError as exc:
            bad("Date", str(exc))
    description = _text(cell("Description"))
    if len(description) > 10_000:
        bad("Description", "description de plus de 10 000 caractères.")
    raw_outcome = _text(cell("Issue"))  # blank when the column is absent
    outcome = resolve_outcome(raw_outcome) or ""
    if raw_outcome and code:
        reason = outcome_error(code, outcome or raw_outcome[:20])
        if reason:
            bad("Issue", reason[0].lower() + reason[1:])
    elif raw_outcome and not outcome:
        bad("Issue", f"issue inconnue « {raw_outcome[:20]} » : un code (INJONCTION, REJET, NON-LIEU, "
                     "DESISTEMENT, L521-3, L521-1, L521-2) ou son libellé.")
    if target is not None and code and when:
        target.events.append((number, when, code, description, outcome))


def _create_all(org, parsed: list[ParsedCase], actor, today: date, report: ImportReport) -> None:
    """Insert everything in one flush; urgency computed in memory (no per-row queries)."""
    rule_set = rules()
    sequences: dict[int, int] = {}
    cases = []
    for item in parsed:
        data = item.data
        reference = data.reference
        if not reference:
            year = today.year
            if year not in sequences:
                sequences[year] = int(next_reference(org, year).rsplit("-", 1)[1])
            reference = f"{org.ref_prefix}-{year}-{sequences[year]:04d}"
            sequences[year] += 1
        case = Case(org_id=org.id, reference=reference, opened_on=today,
                    prefecture=departements.resolve(data.prefecture), demarche=data.demarche,
                    status=data.status, titre_actuel=data.titre_actuel, titre_expiry=data.titre_expiry,
                    anef_number=data.anef_number, first_attempt=data.first_attempt, narrative=data.narrative)
        if data.has_person():
            case.person = Person(org_id=org.id, **{n: getattr(data, n) for n in PERSON_FIELDS})
        case.codes = ([CaseCode(kind="blocage", code=c, position=i) for i, c in enumerate(dict.fromkeys(data.blocages))]
                      + [CaseCode(kind="consequence", code=c, position=i)
                         for i, c in enumerate(dict.fromkeys(data.consequences))])
        case.events = [Event(date=when, type=code, description=desc, outcome=outcome,
                             created_by_id=actor.id if actor else None)
                       for _, when, code, desc, outcome in item.events]
        facts = deadlines.CaseFacts(status=case.status, titre_expiry=case.titre_expiry,
                                    events=tuple(deadlines.TimelineFact(e.date, e.type) for e in case.events))
        case.urgency = deadlines.urgency(facts, today, rule_set).level
        case.urgency_on = today
        cases.append(case)
    db.session.add_all(cases)
    db.session.flush()
    db.session.add_all(IndexOutbox(case_id=c.id) for c in cases)
    report.references = [c.reference for c in cases]
    audit.record("case.import", actor=actor, org_id=org.id, cases=len(cases), events=report.events)
