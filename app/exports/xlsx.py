"""CaseRow → the coordinators' workbook (.xlsx bytes): Cas, Chronologie, Synthèse (with native
charts) and Traçabilité.

No Flask, no database: rows, labels, rules and the clock come in as arguments.

xlsxwriter writes the workbook: styles, headers, column widths, frozen panes, autofilters, print
set-up, the Synthèse and its charts. The data rows of the three large sheets (Cas, Chronologie,
Traçabilité) are serialised by `_DataSheet` instead, into a temporary file that is spliced into
the package's sheet part after xlsxwriter closes it. Measured reason: xlsxwriter's per-cell path
(type dispatch, dimension checks, per-cell escaping, attribute lists) costs about 8 µs a cell on
this kind of machine — 10,000 cases with their timelines are 450,000 cells, 3 to 4 s, more than the
whole export's budget — while the cell XML of these sheets has four shapes (text, number, date,
boolean) written below as xlsxwriter writes them: inline strings, Excel's `_xHHHH_` escapes, the
same date serials. The rows stream to disk, so memory stays flat at 100,000 cases (openpyxl stays
the reader of imports). Text cells are inline strings, never formulas, and anything a person typed
is escaped: never read as a formula nor as markup (xlsxwriter copies a string framed by <r>…</r>
as raw rich-text XML: `_Sheet` writes such a text as a rich string of plain fragments).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_range

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
CHARTED = ("primary", "month", "remedies", "prefecture")

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
TRACE_CHUNK = 2000  # pseudonyms per cell: 2,000 × 16 characters stays under Excel's cell limit
EXCEL_MAX_ROWS = 1_048_576


class WorkbookTooLarge(ValueError):
    """More rows than a sheet can hold: refused rather than silently cut."""


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
    if type(value) is str and len(value) <= _CACHED_TEXT:
        return _short_text(value)
    return _clean(value)


def _clean(value: object) -> str:
    cleaned = xml_safe(value)
    if len(cleaned) > EXCEL_CELL_LIMIT // 2 - 1:
        # Excel's limit counts UTF-16 units: a character outside the BMP (an emoji) takes two.
        units = cleaned.encode("utf-16-le")
        if len(units) > 2 * (EXCEL_CELL_LIMIT - 1):
            cleaned = units[:2 * (EXCEL_CELL_LIMIT - 1)].decode("utf-16-le", errors="ignore")
    return neutralise(cleaned)


# Labels, préfectures, months and « oui »/« non » repeat on every row: clean each once per process.
_CACHED_TEXT = 64
_short_text = functools.lru_cache(maxsize=4096)(_clean)


class Styled:
    """A value with a named format of the workbook (`_Formats`)."""

    __slots__ = ("value", "style")

    def __init__(self, value, style: str):
        self.value, self.style = value, style


class _Formats:
    def __init__(self, workbook):
        self.by_name = {
            "header": workbook.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79",
                                           "text_wrap": True, "valign": "top"}),
            "date": workbook.add_format({"num_format": DATE_FORMAT}),
            "title": workbook.add_format({"bold": True, "font_size": 14}),
            "bold": workbook.add_format({"bold": True}),
            "percent": workbook.add_format({"num_format": "0.0%"}),
            "decimal": workbook.add_format({"num_format": "0.0"}),
            "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
        }

    def __getitem__(self, name: str):
        return self.by_name[name]


class _Sheet:
    """A small sheet written cell by cell through xlsxwriter (the Synthèse): typed cells, text
    written with `write_string`, never read as a formula."""

    def __init__(self, workbook, formats: _Formats, title: str, widths: list[int]):
        self.sheet = workbook.add_worksheet(title)
        self.formats = formats
        self.rows = 0
        for i, width in enumerate(widths):
            self.sheet.set_column(i, i, width)

    def append(self, values: list) -> None:
        sheet, row = self.sheet, self.rows
        for col, value in enumerate(values):
            style = None
            if type(value) is Styled:
                value, style = value.value, self.formats[value.style]
            if value is None or value == "":
                if style is not None:
                    sheet.write_blank(row, col, None, style)
            elif isinstance(value, str):
                if value.startswith("<r>") and value.endswith("</r>"):
                    # xlsxwriter would copy it as raw rich-text XML; fragments are escaped (it
                    # wants three at least).
                    sheet.write_rich_string(row, col, value[:1], value[1:2], value[2:], *([style] if style else []))
                else:
                    sheet.write_string(row, col, value, style)
            elif isinstance(value, bool):
                sheet.write_boolean(row, col, value, style)
            elif isinstance(value, int | float):
                sheet.write_number(row, col, value, style)
            elif isinstance(value, datetime | date):
                sheet.write_datetime(row, col, value, style or self.formats["date"])
            else:
                sheet.write_string(row, col, text(value), style)
        self.rows += 1


# Excel's escapes, as xlsxwriter's `_escape_control_characters` writes them (overlaps included
# here), so that a text reads back the same: a literal `_xHHHH_` gets its underscore escaped, and
# the control characters `xml_safe` keeps (CR) are written as Excel's `_x000D_`.
_EXCEL_ESCAPE = re.compile("_(?=x[0-9a-fA-F]{4}_)")  # a lookahead: « _x0041_x0042_ » has two
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")
_EXCEL_EPOCH = date(1899, 12, 31).toordinal()
# Serialised rows go to the temporary file every ROW_BUFFER rows, or sooner once long texts
# (narratives, Traçabilité's lists of pseudonyms) pass BUFFER_CHARS: memory stays flat.
ROW_BUFFER = 500
BUFFER_CHARS = 1 << 20
# Deflate level of the data sheets: level 1 takes a third of the default level's time (0.4 s at
# 10,000 cases) for files about 15 % larger (4.2 MB instead of 3.7 MB).
DATA_COMPRESSION = 1


def _inline_xml(value: str) -> str:
    """The end of a text cell, after `<c r="…"`: an inline string, escaped."""
    if "_x" in value:
        value = _EXCEL_ESCAPE.sub("_x005F_", value)
    if _CONTROL.search(value):
        value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    preserve = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f' t="inlineStr"><is><t{preserve}>{value}</t></is></c>'


# Labels, pseudonym prefixes, « oui »/« non » and codes repeat on every row.
_short_inline_xml = functools.lru_cache(maxsize=8192)(_inline_xml)


def _excel_serial(value: date) -> int | float:
    """Excel's 1900 date system, with its phantom 29 February 1900 (as xlsxwriter counts)."""
    days = value.toordinal() - _EXCEL_EPOCH
    if days > 59:
        days += 1
    if isinstance(value, datetime):
        return days + (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400
    return days


class _DataSheet:
    """A large sheet: xlsxwriter writes its header and layout; the data rows are serialised here
    to a temporary file and spliced into the sheet's part once the package is closed (`_splice`).

    Cells: `str` (text cleaned by `text()`), `int`/`float`, `bool`, `date`/`datetime` (the
    workbook's date format), None or "" (no cell)."""

    def __init__(self, workbook, formats: _Formats, title: str, columns: list[tuple[str, int]], tmpdir: str):
        self.sheet = workbook.add_worksheet(title)
        # Parts are numbered in the order sheets are added (there are no chartsheets here).
        self.part = f"xl/worksheets/sheet{len(workbook.worksheets())}.xml"
        self.ncols = len(columns)
        self.letters = [xl_col_to_name(i) for i in range(self.ncols)]
        # xlsxwriter numbers a format when a cell first uses it; no cell of ours goes through it.
        self.date_style = formats["date"]._get_xf_index()
        for i, (name, width) in enumerate(columns):
            self.sheet.set_column(i, i, width)
            self.sheet.write_string(0, i, text(name), formats["header"])
        self.sheet.freeze_panes(1, 0)
        self.sheet.repeat_rows(0)
        self.rows = 1  # the header
        self._file = tempfile.TemporaryFile(dir=tmpdir)
        self._pending: list[str] = []
        self._long_chars = 0

    def append(self, values: list) -> None:
        # The hot loop of a 100,000-case export: plain strings (most cells) take the first branch.
        if self.rows >= EXCEL_MAX_ROWS:
            raise WorkbookTooLarge(f"La feuille « {self.sheet.name} » dépasserait 1 048 576 lignes, le maximum "
                                   "d'Excel : réduisez la sélection avec les filtres.")
        number = str(self.rows + 1)
        out = self._pending
        out.append(f'<row r="{number}">')
        for letter, value in zip(self.letters, values, strict=True):
            kind = type(value)
            if kind is str:
                if not value:
                    continue
                if len(value) <= _CACHED_TEXT:
                    out.append(f'<c r="{letter}{number}"' + _short_inline_xml(value))
                else:
                    out.append(f'<c r="{letter}{number}"' + _inline_xml(value))
                    self._long_chars += len(value)
            elif value is None:
                continue
            elif kind is int or (kind is float and math.isfinite(value)):
                out.append(f'<c r="{letter}{number}"><v>{value:.16G}</v></c>')
            elif kind is bool:
                out.append(f'<c r="{letter}{number}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, date):
                out.append(f'<c r="{letter}{number}" s="{self.date_style}"><v>{_excel_serial(value):.16G}</v></c>')
            else:
                raise TypeError(f"cellule de type inattendu : {kind.__name__}")
        out.append("</row>")
        self.rows += 1
        if self.rows % ROW_BUFFER == 0 or self._long_chars > BUFFER_CHARS:
            self._flush()

    def _flush(self) -> None:
        self._file.write("".join(self._pending).encode("utf-8"))
        self._pending.clear()
        self._long_chars = 0

    def finish_table(self, *, landscape: bool = True) -> None:
        """Autofilter over the header and every data row; printed fit to the page width."""
        self._flush()
        self.sheet.autofilter(0, 0, self.rows - 1, self.ncols - 1)
        if landscape:
            self.sheet.set_landscape()
        self.sheet.fit_to_pages(1, 0)
        self.sheet.set_paper(9)  # A4

    def splice_into(self, part: bytes, target) -> None:
        """Write the sheet's part to `target` (a zip entry open for writing): xlsxwriter's XML
        with the data rows before `</sheetData>` and the dimension widened to them."""
        head, end, tail = part.partition(b"</sheetData>")
        if not end or b"<dimension ref=" not in head:
            raise RuntimeError(f"{self.part}: partie inattendue, le classeur n'est pas écrit")
        dimension = xl_range(0, 0, self.rows - 1, self.ncols - 1).encode()
        head = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="' + dimension + b'"/>', head, count=1)
        target.write(head)
        self._file.seek(0)
        shutil.copyfileobj(self._file, target, 1 << 20)
        target.write(end + tail)

    def rows_bytes(self) -> int:
        return self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()


def _splice(path: str, sheets: list[_DataSheet]) -> bytes:
    """The package xlsxwriter wrote at `path`: every part copied as is, but the data sheets',
    which get their rows (deflated at `DATA_COMPRESSION`)."""
    by_part = {sheet.part: sheet for sheet in sheets}
    with tempfile.TemporaryFile(dir=os.path.dirname(path)) as buffer, zipfile.ZipFile(path) as source:
        _copy_package(source, buffer, by_part)
        if by_part:
            raise RuntimeError(f"parties absentes du classeur : {', '.join(by_part)}")
        buffer.seek(0)
        return buffer.read()


def _copy_package(source: zipfile.ZipFile, buffer, by_part: dict[str, _DataSheet]) -> None:
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=DATA_COMPRESSION) as package:
        for info in source.infolist():
            sheet = by_part.pop(info.filename, None)
            if sheet is None:
                package.writestr(info, source.read(info))  # xlsxwriter's own, level included
                continue
            part = source.read(info)
            # zip64 only when the part needs it: Excel repairs small entries forced to zip64.
            size = len(part) + sheet.rows_bytes()
            with package.open(info.filename, "w", force_zip64=size * 1.05 > zipfile.ZIP64_LIMIT) as target:
                sheet.splice_into(part, target)


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
    fd, path = tempfile.mkstemp(prefix="constat-xlsx-", suffix=".xlsx")
    os.close(fd)
    tmpdir = os.path.dirname(path)
    data_sheets: list[_DataSheet] = []
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": tmpdir,
                                              "strings_to_formulas": False, "strings_to_urls": False})
        workbook.set_properties({"title": "Dossiers ANEF", "comments": VARIANT_LABELS[variant]})
        try:
            result = _fill(workbook, rows, data_sheets, tmpdir, variant=variant, labels=labels, today=today,
                           rules=rules, generated_at=generated_at, filters=filters, official=official,
                           threshold=threshold, scope=scope)
        except BaseException:
            with contextlib.suppress(Exception):
                workbook.close()  # closes xlsxwriter's own temporary files; the package is deleted below
            raise
        workbook.close()
        result.content = _splice(path, data_sheets)
        return result
    finally:
        for sheet in data_sheets:
            sheet.close()
        os.unlink(path)
        # The caches hold short texts of this export (names, telephone numbers): not kept for
        # the next request of a long-lived server process.
        _short_text.cache_clear()
        _short_inline_xml.cache_clear()


def _fill(workbook, rows, data_sheets: list[_DataSheet], tmpdir: str, *, variant, labels, today, rules,
          generated_at, filters, official, threshold, scope) -> WorkbookResult:
    identified = variant == IDENTIFIED
    formats = _Formats(workbook)
    if identified:
        case_columns = [(c, IDENTIFIED_WIDTHS.get(c, 14)) for c in CASE_COLUMNS]
        event_columns = [(c, IDENTIFIED_EVENT_WIDTHS[c]) for c in IDENTIFIED_EVENT_COLUMNS]
    else:
        case_columns, event_columns = ANONYMISED_CASE_COLUMNS, ANONYMISED_EVENT_COLUMNS
    cases = _DataSheet(workbook, formats, "Cas", case_columns, tmpdir)
    data_sheets.append(cases)
    events = _DataSheet(workbook, formats, "Chronologie", event_columns, tmpdir)
    data_sheets.append(events)
    builder = SummaryBuilder(labels, official, today=today)
    # Dates as the variant allows: exact (date cells) or the month only (text).
    day = _month if variant == ANONYMISED else (lambda value: value)
    event_labels = labels.get("evenement", {})
    demarches, statuts, blocages = labels.get("demarche", {}), labels.get("statut", {}), labels.get("blocage", {})
    n_events = 0
    for row in rows:
        stats = case_stats(row, today, rules)
        if row.statistics:
            builder.add(stats)
        if identified:
            person = row.person
            cases.append([
                text(row.reference), text(person.last_name if person else ""),
                text(person.first_name if person else ""), person.birth_date if person else None,
                text(person.nationality if person else ""), text(person.numero_etranger if person else ""),
                text(person.phone if person else ""), text(person.email if person else ""),
                text(row.prefecture), text(row.demarche), text(row.titre_actuel), row.titre_expiry,
                text(row.anef_number), text(";".join(row.blocages)), text(row.status),
                row.first_attempt, text(";".join(row.consequences)), text(row.narrative),
            ])
            for e in row.events:
                events.append([text(row.reference), e.date, text(e.type), text(e.description), text(e.outcome)])
        else:
            dep = departements.get(row.prefecture)
            primary = row.blocages[0] if row.blocages else ""
            cases.append([
                text(row.pseudonym), text(row.prefecture), text(dep.nom if dep else ""),
                text(demarches.get(row.demarche, row.demarche)), text(stats.titre),
                day(row.titre_expiry), text(";".join(row.blocages)), text(blocages.get(primary, primary)),
                text(statuts.get(row.status, row.status)), day(row.first_attempt),
                text(stats.onset_month), text(";".join(row.consequences)), stats.days_blocked,
                stats.days_without_rights, stats.estimated_days or None,
                *[_yes(code in stats.tried) for code in REMEDIES],
                _yes(stats.refere), "en attente" if stats.refere_pending else _yes(stats.refere_won),
                _yes(stats.deposited), _yes(stats.resolved), len(row.events),
            ])
            for e in row.events:
                events.append([text(row.pseudonym), day(e.date), text(event_labels.get(e.type, e.type)),
                               text(OUTCOME_LABELS.get(e.outcome, e.outcome))])
        n_events += len(row.events)
    cases.finish_table()
    events.finish_table(landscape=False)
    summary = builder.result(threshold=threshold)
    synthese = _write_summary(workbook, formats, summary, variant=variant, generated_at=generated_at,
                              filters=filters or [], scope=scope)
    if not identified:
        _write_traces(workbook, formats, summary, tmpdir, data_sheets)
    # The workbook opens on the Synthèse: what a coordinator looks for first.
    synthese.activate()
    return WorkbookResult(b"", builder.total, n_events, summary)


def _write_summary(workbook, formats: _Formats, summary: Summary, *, variant: str, generated_at: datetime,
                   filters: list[str], scope: Scope | None = None):
    """Synthèse: the tables one under another in A–G, native charts to their right."""
    sheet = _Sheet(workbook, formats, "Synthèse", [52] + [12] * 6)
    sheet.append([Styled(text("Synthèse des dossiers"), "title")])
    sheet.append([text(f"Export du {datetime_fr(generated_at)} · {VARIANT_LABELS[variant]}"
                       f" · {summary.total} dossier(s) comptés")])
    sheet.append([text("Filtres : " + ("; ".join(filters) if filters else "aucun (tous les dossiers)"))])
    for sentence in (scope.sentences(summary.threshold) if scope else []):
        sheet.append([text(sentence)])
    sheet.append([])
    charts = []
    for table in summary.tables:
        sheet.append([Styled(text(table.title), "bold")])
        header_row = sheet.rows
        sheet.append([Styled(text(h), "bold") for h in table.headers])
        for values in table.rows:
            out = []
            for header, value in zip(table.headers, values, strict=False):
                if isinstance(value, str):
                    out.append(text(value))
                elif header == "Part" and value is not None:
                    out.append(Styled(value, "percent"))
                elif isinstance(value, float):
                    out.append(Styled(value, "decimal"))
                else:
                    out.append(value)
            sheet.append(out)
        last_row = sheet.rows - 1
        if table.note:
            sheet.append([text(table.note)])
        if table.chart is not None and table.rows and table.key in CHARTED:
            charts.append((table, header_row, last_row))
        sheet.append([])
    sheet.append([Styled(text("Comparaison avec le chiffre officiel"), "bold")])
    for sentence in summary.comparison:
        sheet.append([Styled(text(sentence), "wrap")])
    sheet.append([])
    sheet.append([Styled(text("Méthode"), "bold")])
    for sentence in summary.method:
        sheet.append([Styled(text(sentence), "wrap")])
    sheet.sheet.fit_to_pages(1, 0)
    sheet.sheet.set_paper(9)

    anchor_row = 0
    for table, header_row, last_row in charts:
        chart = workbook.add_chart({"type": "line" if table.key == "month" else "bar"})
        column = table.chart
        chart.add_series({
            "name": table.headers[column],
            # Hidden counts (« < 5 ») are text: Excel draws them as gaps, never as a number.
            "categories": ["Synthèse", header_row + 1, 0, last_row, 0],
            "values": ["Synthèse", header_row + 1, column, last_row, column],
            "fill": {"color": "#1F4E79"}, "line": {"color": "#1F4E79"},
        })
        chart.set_title({"name": table.title})
        chart.set_legend({"none": True})
        chart.set_size({"width": 640, "height": 360})
        sheet.sheet.insert_chart(anchor_row, 8, chart)
        anchor_row += 20
    return sheet.sheet


def _write_traces(workbook, formats: _Formats, summary: Summary, tmpdir: str, data_sheets: list[_DataSheet]) -> None:
    """Traçabilité: for each figure of the Synthèse, the pseudonyms of the cases behind it (a long
    list continues on the next rows). Hidden counts have no list: it would give them away.
    Megabytes of pseudonyms at 10,000 cases: a data sheet."""
    sheet = _DataSheet(workbook, formats, "Traçabilité",
                       [("Tableau", 34), ("Ligne", 48), ("Dossiers", 10), ("Pseudonymes", 120)], tmpdir)
    data_sheets.append(sheet)  # closed by write_workbook whatever happens next
    for title, label, count, ids in summary.traces():
        for start in range(0, len(ids), TRACE_CHUNK):
            first = start == 0
            sheet.append([text(title) if first else text(f"{title} (suite)"), text(label),
                          count if first else None, text(", ".join(ids[start:start + TRACE_CHUNK]))])
    sheet.finish_table()
