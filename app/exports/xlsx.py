"""CaseRow → the coordinators' workbook (.xlsx bytes): Cas, Chronologie, Synthèse and charts.

No Flask, no database: rows, labels, rules and the clock come in as arguments. openpyxl in
write-only mode streams every sheet to disk, so memory stays flat at 100,000 cases.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from app.cases import deadlines
from app.core import departements
from app.core.formats import datetime_fr
from app.core.spreadsheet import CASE_COLUMNS, EVENT_COLUMNS, EVENT_OPTIONAL_COLUMNS, neutralise
from app.exports.rows import CaseRow
from app.exports.summary import (ANONYMISED, IDENTIFIED, REMEDIES, VARIANT_LABELS, Scope, Summary, SummaryBuilder,
                                 case_stats)
from app.exports.text import xml_safe
from app.legal.codes import OUTCOMES_BY_TYPE

EXCEL_CELL_LIMIT = 32_767
DATE_FORMAT = "DD/MM/YYYY"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)

# (header, width); the anonymised Cas sheet: no name, number, contact, birth date or narrative.
ANONYMISED_CASE_COLUMNS = [
    ("Pseudonyme", 17), ("Préfecture", 11), ("Département", 20), ("Démarche", 24), ("Titre", 22),
    ("Expiration du titre", 13), ("Blocage", 24), ("Blocage principal", 34), ("Statut", 14),
    ("Première tentative", 13), ("Mois de début", 11), ("Conséquences", 20), ("Jours bloqués", 10),
    ("Jours sans droits", 10), ("Jours sans droits estimés en plus", 12), ("CCC", 7), ("PAN", 7),
    ("Préfecture saisie", 10), ("Substitution", 10), ("DDD", 7), ("Référé", 8), ("Référé gagné", 9),
    ("Demande déposée", 9), ("Résolu", 8), ("Événements", 10),
]
IDENTIFIED_WIDTHS = {"Référence": 16, "Nom": 18, "Prénom": 16, "Date de naissance": 13, "Nationalité": 14,
                     "Numéro étranger": 14, "Téléphone": 14, "Courriel": 24, "Préfecture": 11, "Démarche": 14,
                     "Titre": 20, "Expiration du titre": 13, "Numéro de demande ANEF": 18, "Blocage": 22,
                     "Statut": 11, "Première tentative": 13, "Conséquences": 18, "Récit": 60}
# Outcomes are codes, not personal data: both Chronologie sheets carry them.
ANONYMISED_EVENT_COLUMNS = [("Pseudonyme", 17), ("Date", 12), ("Type", 44), ("Issue", 32)]
# The contract's columns, then the optional `Issue` (codes), so that the sheet re-imports as is.
IDENTIFIED_EVENT_COLUMNS = EVENT_COLUMNS + EVENT_OPTIONAL_COLUMNS
IDENTIFIED_EVENT_WIDTHS = {"Référence": 16, "Date": 12, "Type": 14, "Description": 80, "Issue": 13}
OUTCOME_LABELS = {code: label for labels in OUTCOMES_BY_TYPE.values() for code, label in labels.items()}


@dataclass
class WorkbookResult:
    content: bytes
    cases: int
    events: int
    summary: Summary


def text(value: object) -> str:
    """Every text cell: XML-safe, within Excel's cell limit, neutralised against formulas."""
    if not value:
        return ""
    cleaned = xml_safe(value)
    if len(cleaned) > EXCEL_CELL_LIMIT - 1:
        cleaned = cleaned[:EXCEL_CELL_LIMIT - 1]
    return neutralise(cleaned)


class _Writer:
    """Appends rows to one write-only sheet with typed cells; counts rows for filters and charts."""

    def __init__(self, workbook: Workbook, title: str, columns: list[tuple[str, int]], *, header: bool = True):
        self.sheet = workbook.create_sheet(title)
        self.ncols = len(columns)
        self.rows = 0
        for i, (_, width) in enumerate(columns, start=1):
            self.sheet.column_dimensions[get_column_letter(i)].width = width
        if header:
            self.sheet.freeze_panes = "A2"
            self.append([self._header(name) for name, _ in columns])

    def _header(self, name: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.sheet, value=text(name))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        return cell

    def date(self, value: date | None):
        if value is None:
            return None
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.number_format = DATE_FORMAT
        return cell

    def cell(self, value, *, font: Font | None = None, number_format: str | None = None):
        cell = WriteOnlyCell(self.sheet, value=value)
        if font is not None:
            cell.font = font
        if number_format:
            cell.number_format = number_format
        return cell

    def append(self, values: list) -> None:
        self.sheet.append(values)
        self.rows += 1

    def finish_table(self) -> None:
        """Autofilter over the header and every data row."""
        if self.rows:
            self.sheet.auto_filter.ref = f"A1:{get_column_letter(self.ncols)}{max(self.rows, 1)}"


def _yes(flag: bool) -> str:
    return "oui" if flag else "non"


def _month(value: date | None) -> str:
    return value.strftime("%Y-%m") if value else ""


def write_workbook(rows: Iterable[CaseRow], *, variant: str, labels: dict[str, dict[str, str]],
                   today: date, rules: deadlines.Rules, generated_at: datetime,
                   filters: list[str] | None = None, official: dict | None = None,
                   threshold: int | None = None, scope: Scope | None = None) -> WorkbookResult:
    """The workbook as bytes. Identified: the contract's columns exactly (re-importable);
    pseudonymised: a keyed pseudonym instead of the reference, no personal column, exact dates;
    anonymised: the same with dates reduced to the month and counts below `threshold` hidden.
    A row whose `statistics` is False is listed (identified only) but never counted."""
    identified = variant == IDENTIFIED
    coarse = variant == ANONYMISED
    workbook = Workbook(write_only=True)
    if identified:
        cases = _Writer(workbook, "Cas", [(c, IDENTIFIED_WIDTHS.get(c, 14)) for c in CASE_COLUMNS])
        events = _Writer(workbook, "Chronologie", [(c, IDENTIFIED_EVENT_WIDTHS[c]) for c in IDENTIFIED_EVENT_COLUMNS])
    else:
        cases = _Writer(workbook, "Cas", ANONYMISED_CASE_COLUMNS)
        events = _Writer(workbook, "Chronologie", ANONYMISED_EVENT_COLUMNS)
    builder = SummaryBuilder(labels, official, today=today)
    # Dates as the variant allows: exact (typed cells) or the month only (text).
    day = (lambda sheet, value: text(_month(value))) if coarse else (lambda sheet, value: sheet.date(value))
    event_labels = labels.get("evenement", {})
    n_events = 0
    for row in rows:
        stats = case_stats(row, today, rules)
        if row.statistics:
            builder.add(stats)
        if identified:
            person = row.person
            cases.append([
                text(row.reference), text(person.last_name if person else ""),
                text(person.first_name if person else ""), cases.date(person.birth_date if person else None),
                text(person.nationality if person else ""), text(person.numero_etranger if person else ""),
                text(person.phone if person else ""), text(person.email if person else ""),
                text(row.prefecture), text(row.demarche), text(row.titre_actuel), cases.date(row.titre_expiry),
                text(row.anef_number), text(";".join(row.blocages)), text(row.status),
                cases.date(row.first_attempt), text(";".join(row.consequences)), text(row.narrative),
            ])
            for e in row.events:
                events.append([text(row.reference), events.date(e.date), text(e.type), text(e.description),
                               text(e.outcome)])
        else:
            dep = departements.get(row.prefecture)
            primary = row.blocages[0] if row.blocages else ""
            cases.append([
                text(row.pseudonym), text(row.prefecture), text(dep.nom if dep else ""),
                text(labels.get("demarche", {}).get(row.demarche, row.demarche)), text(stats.titre),
                day(cases, row.titre_expiry), text(";".join(row.blocages)),
                text(labels.get("blocage", {}).get(primary, primary)),
                text(labels.get("statut", {}).get(row.status, row.status)), day(cases, row.first_attempt),
                text(stats.onset_month), text(";".join(row.consequences)), stats.days_blocked,
                stats.days_without_rights, stats.estimated_days or None,
                *[_yes(code in stats.tried) for code in REMEDIES],
                _yes(stats.refere), "en attente" if stats.refere_pending else _yes(stats.refere_won),
                _yes(stats.deposited), _yes(stats.resolved), len(row.events),
            ])
            for e in row.events:
                events.append([text(row.pseudonym), day(events, e.date), text(event_labels.get(e.type, e.type)),
                               text(OUTCOME_LABELS.get(e.outcome, e.outcome))])
        n_events += len(row.events)
    cases.finish_table()
    events.finish_table()
    summary = builder.result(threshold=threshold)
    _write_summary(workbook, summary, variant=variant, generated_at=generated_at, filters=filters or [],
                   scope=scope)
    if not identified:
        _write_traces(workbook, summary)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return WorkbookResult(buffer.getvalue(), builder.total, n_events, summary)


def _write_summary(workbook: Workbook, summary: Summary, *, variant: str, generated_at: datetime,
                   filters: list[str], scope: Scope | None = None) -> None:
    """Synthèse: the tables one under another in A–G, native charts to their right."""
    sheet = _Writer(workbook, "Synthèse", [("", 52), ("", 12), ("", 12), ("", 12), ("", 12), ("", 12), ("", 12)],
                    header=False)
    sheet.append([sheet.cell(text("Synthèse des dossiers"), font=TITLE_FONT)])
    sheet.append([text(f"Export du {datetime_fr(generated_at)} · {VARIANT_LABELS[variant]}"
                       f" · {summary.total} dossier(s) comptés")])
    sheet.append([text("Filtres : " + ("; ".join(filters) if filters else "aucun (tous les dossiers)"))])
    for sentence in (scope.sentences(summary.threshold) if scope else []):
        sheet.append([text(sentence)])
    sheet.append([])
    charts = []
    for table in summary.tables:
        sheet.append([sheet.cell(text(table.title), font=BOLD)])
        header_row = sheet.rows + 1
        sheet.append([sheet.cell(text(h), font=BOLD) for h in table.headers])
        for values in table.rows:
            out = []
            for header, value in zip(table.headers, values, strict=False):
                if isinstance(value, str):
                    out.append(text(value))
                elif header == "Part":
                    out.append(sheet.cell(value, number_format="0.0%"))
                elif isinstance(value, float):
                    out.append(sheet.cell(value, number_format="0.0"))
                else:
                    out.append(value)
            sheet.append(out)
        if table.note:
            sheet.append([text(table.note)])
        last_row = sheet.rows - (1 if table.note else 0)
        if table.chart is not None and table.rows and table.key in ("primary", "month", "remedies", "prefecture"):
            charts.append((table, header_row, last_row))
        sheet.append([])
    sheet.append([sheet.cell(text("Comparaison avec le chiffre officiel"), font=BOLD)])
    for sentence in summary.comparison:
        sheet.append([text(sentence)])
    sheet.append([])
    sheet.append([sheet.cell(text("Méthode"), font=BOLD)])
    for sentence in summary.method:
        sheet.append([text(sentence)])

    anchor_row = 1
    for table, header_row, last_row in charts:
        chart = LineChart() if table.key == "month" else BarChart()
        if isinstance(chart, BarChart):
            chart.type = "bar"  # horizontal bars: long French labels stay readable
        chart.title = table.title
        chart.style = 10
        chart.height, chart.width = 9, 18
        column = table.chart + 1
        data = Reference(sheet.sheet, min_col=column, min_row=header_row, max_row=last_row)
        categories = Reference(sheet.sheet, min_col=1, min_row=header_row + 1, max_row=last_row)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(categories)
        chart.legend = None
        # openpyxl ≥ 3.1 writes axes as deleted unless told otherwise: Excel would hide them.
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        sheet.sheet.add_chart(chart, f"H{anchor_row}")
        anchor_row += 20


TRACE_CHUNK = 2000  # pseudonyms per cell: 2,000 × 15 characters stays under Excel's cell limit


def _write_traces(workbook: Workbook, summary: Summary) -> None:
    """Traçabilité: for each figure of the Synthèse, the pseudonyms of the cases behind it (a long
    list continues on the next rows). Hidden counts have no list: it would give them away."""
    sheet = _Writer(workbook, "Traçabilité", [("Tableau", 34), ("Ligne", 48), ("Dossiers", 10), ("Pseudonymes", 120)])
    for title, label, count, ids in summary.traces():
        for start in range(0, len(ids), TRACE_CHUNK):
            first = start == 0
            sheet.append([text(title) if first else text(f"{title} (suite)"), text(label),
                          count if first else None, text(", ".join(ids[start:start + TRACE_CHUNK]))])
    sheet.finish_table()
