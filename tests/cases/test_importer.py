"""`cases import`: xlsx and csv, all or nothing, a report naming every bad row and column."""

import csv
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.cases.importer import ImportRefused, import_file
from app.cases.models import Case, Event
from app.core.spreadsheet import CASE_COLUMNS, EVENT_COLUMNS
from app.extensions import db as _db


def row(**values):
    base = {"Préfecture": "69", "Démarche": "RENOUV", "Blocage": "API-ABS", "Statut": "OUVERT"}
    base.update(values)
    return [base.get(column) for column in CASE_COLUMNS]


def write_xlsx(path: Path, rows, events=(), header=CASE_COLUMNS) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Cas"
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    chrono = workbook.create_sheet("Chronologie")
    chrono.append(EVENT_COLUMNS)
    for e in events:
        chrono.append(e)
    workbook.save(path)
    return path


def write_csv(path: Path, rows, header=CASE_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def count(model):
    return _db.session.scalar(select(func.count(model.id)))


def test_xlsx_imports_cases_and_timeline(tmp_path, org):
    path = write_xlsx(tmp_path / "ok.xlsx", [
        row(**{"Référence": "LYO-2024-0007", "Nom": "Diallo", "Prénom": "Awa", "Date de naissance": "12/03/1990",
               "Numéro étranger": 1234567890, "Préfecture": "Rhône", "Blocage": "API-ABS; Accompagnement défaillant",
               "Statut": "En cours", "Conséquences": "CAF;EMPLOI", "Expiration du titre": date(2025, 1, 31),
               "Récit": "Aucune API."}),
        row(**{"Préfecture": "2A", "Démarche": "Première demande"}),
    ], events=[["LYO-2024-0007", "05/02/2025", "CCC", "Ticket 2025-CCC-884213"],
               ["LYO-2024-0007", date(2025, 1, 3), "Tentative de dépôt", ""]])
    report = import_file(path, org)
    _db.session.commit()
    assert (report.cases, report.events) == (2, 2)
    case = _db.session.scalar(select(Case).where(Case.reference == "LYO-2024-0007"))
    assert case.prefecture == "69" and case.status == "EN-COURS"
    assert case.blocages == ["API-ABS", "ACCOMP"] and case.consequences == ["CAF", "EMPLOI"]
    assert case.person.numero_etranger == "1234567890" and case.person.birth_date == date(1990, 3, 12)
    assert [e.type for e in case.events] == ["TENTATIVE", "CCC"]
    generated = _db.session.scalar(select(Case).where(Case.prefecture == "2A"))
    assert generated.reference.startswith("LYO-") and generated.person is None


def test_csv_imports(tmp_path, org):
    path = write_csv(tmp_path / "ok.csv", [row(**{"Nom": "Петренко", "Blocage": "RDV"}), row()])
    assert import_file(path, org).cases == 2
    _db.session.commit()
    assert count(Case) == 2


def test_semicolon_csv_with_bom(tmp_path, org):
    path = tmp_path / "excel.csv"
    lines = [";".join(CASE_COLUMNS), ";".join(str(v or "") for v in row(**{"Blocage": "RDV"}))]
    path.write_text("\n".join(lines), encoding="utf-8-sig")
    assert import_file(path, org).cases == 1


def test_three_bad_rows_refuse_everything_and_name_each_column(tmp_path, org):
    path = write_xlsx(tmp_path / "bad.xlsx", [
        row(),
        row(**{"Blocage": "PAS-UN-CODE"}),
        row(**{"Statut": ""}),
        row(**{"Numéro étranger": "12AB", "Date de naissance": "31/02/1990"}),
        row(),
    ])
    with pytest.raises(ImportRefused) as exc:
        import_file(path, org)
    problems = [(p.row, p.column) for p in exc.value.report.problems]
    assert (3, "Blocage") in problems and (4, "Statut") in problems
    assert (5, "Numéro étranger") in problems and (5, "Date de naissance") in problems
    assert all(str(p) for p in exc.value.report.problems)
    _db.session.rollback()
    assert count(Case) == 0


def raw(name: str, content: bytes):
    def make(directory: Path) -> Path:
        (directory / name).write_bytes(content)
        return directory / name
    return make


@pytest.mark.parametrize("maker, reason", [
    (lambda p: write_xlsx(p / "h.xlsx", [row()], header=CASE_COLUMNS[:-1] + ["Histoire"]), "en-tête incorrect"),
    (lambda p: write_xlsx(p / "e.xlsx", []), "aucune ligne"),
    (lambda p: write_csv(p / "e.csv", []), "aucune ligne"),
    (raw("junk.xlsx", b"\x00junk" * 200_000), "illisible"),
    (raw("big.csv", b"a" * (11 * 1024 * 1024)), "trop volumineux"),
    (raw("x.ods", b"PK"), "format non pris en charge"),
    (raw("latin1.csv", ",".join(CASE_COLUMNS).encode("latin-1")), "UTF-8"),
])
def test_bad_files_refused_with_french_reason(tmp_path, org, maker, reason):
    with pytest.raises(ImportRefused) as exc:
        import_file(maker(tmp_path), org)
    assert reason in " ".join(str(p) for p in exc.value.report.problems)
    assert count(Case) == 0


def test_formula_cell_refused(tmp_path, org):
    path = write_xlsx(tmp_path / "f.xlsx", [row(**{"Récit": "=HYPERLINK(\"http://x\")"})])
    with pytest.raises(ImportRefused) as exc:
        import_file(path, org)
    assert any(p.column == "Récit" and "formule" in p.reason for p in exc.value.report.problems)
    csv_path = write_csv(tmp_path / "f.csv", [row(**{"Nom": "=1+1"})])
    with pytest.raises(ImportRefused):
        import_file(csv_path, org)


def test_guarded_text_is_unguarded(tmp_path, org):
    path = write_csv(tmp_path / "g.csv", [row(**{"Récit": "'=HYPERLINK(x)"})])
    import_file(path, org)
    assert _db.session.scalar(select(Case.narrative)) == "=HYPERLINK(x)"


def test_duplicated_reference_in_file_and_in_association(tmp_path, org):
    path = write_csv(tmp_path / "d.csv", [row(**{"Référence": "A-1"}), row(**{"Référence": "A-1"})])
    with pytest.raises(ImportRefused) as exc:
        import_file(path, org)
    assert "en double" in str(exc.value.report.problems[0])
    import_file(write_csv(tmp_path / "one.csv", [row(**{"Référence": "A-2"})]), org)
    _db.session.commit()
    with pytest.raises(ImportRefused, match="problème"):
        import_file(write_csv(tmp_path / "again.csv", [row(**{"Référence": "A-2"})]), org)


def test_event_pointing_to_unknown_case_refused(tmp_path, org):
    path = write_xlsx(tmp_path / "ev.xlsx", [row(**{"Référence": "R-1"})],
                      events=[["R-2", "01/01/2025", "CCC", ""], ["R-1", "pas une date", "CCC", ""]])
    with pytest.raises(ImportRefused) as exc:
        import_file(path, org)
    columns = {(p.sheet, p.column) for p in exc.value.report.problems}
    assert ("Chronologie", "Référence") in columns and ("Chronologie", "Date") in columns
    assert count(Event) == 0


def test_dry_run_writes_nothing(tmp_path, org):
    report = import_file(write_csv(tmp_path / "ok.csv", [row()]), org, dry_run=True)
    assert report.cases == 1 and count(Case) == 0


def test_imported_cases_stay_in_their_association(tmp_path, org, other_org):
    import_file(write_csv(tmp_path / "ok.csv", [row(**{"Référence": "ISO-1"})]), org)
    _db.session.commit()
    assert _db.session.scalar(select(Case.org_id).where(Case.reference == "ISO-1")) == org.id
    assert _db.session.scalar(select(func.count(Case.id)).where(Case.org_id == other_org.id)) == 0


# --- text that starts with « = » (issue 14) ------------------------------------------------

HYPERLINK = '=HYPERLINK("https://exemple.org/capture","capture")'


def write_xlsx_text_cells(path: Path, rows) -> Path:
    """A workbook whose cells are all typed as text (xlsxwriter's write_string), as a person
    gets by typing « '= » or formatting the cell as text: never a formula."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Cas")
    for r, values in enumerate([CASE_COLUMNS, *rows]):
        for c, value in enumerate(values):
            if value is not None:
                sheet.write_string(r, c, str(value))
    workbook.add_worksheet("Chronologie").write_row(0, 0, EVENT_COLUMNS)
    workbook.close()
    return path


def test_xlsx_text_cell_starting_with_equals_imports_literally(tmp_path, org):
    path = write_xlsx_text_cells(tmp_path / "t.xlsx", [row(**{"Récit": HYPERLINK, "Nom": "=Diallo"})])
    report = import_file(path, org)
    _db.session.commit()
    assert report.cases == 1
    case = _db.session.scalars(select(Case)).one()
    assert case.narrative == HYPERLINK
    assert case.person.last_name == "=Diallo"


def test_xlsx_real_formula_cell_still_refused_with_its_place(tmp_path, org):
    path = write_xlsx(tmp_path / "f.xlsx", [row(), row(**{"Récit": "=1+1"})])
    with pytest.raises(ImportRefused) as exc:
        import_file(path, org)
    assert [(p.sheet, p.row, p.column) for p in exc.value.report.problems] == [("Cas", 3, "Récit")]
    assert count(Case) == 0


@pytest.mark.parametrize("text, formula", [
    (HYPERLINK, True), ("=cmd|' /C calc'!A0", True), ("=A1", True), ("=$B$2", True), ("=1+2", True),
    ("=SUM(A1:A3)", True), ("= rendez-vous annulé par la préfecture", False), ("=> relancé le 3 mars", False),
    ("== voir pièce 4 ==", False), ("=", False),
])
def test_csv_refuses_only_clear_formulas(tmp_path, org, text, formula):
    path = write_csv(tmp_path / "c.csv", [row(**{"Récit": text})])
    if formula:
        with pytest.raises(ImportRefused) as exc:
            import_file(path, org)
        assert [(p.row, p.column) for p in exc.value.report.problems] == [(2, "Récit")]
    else:
        import_file(path, org)
        assert _db.session.scalar(select(Case.narrative)) == text


def test_cli_imports_hyperlink_text_literally(app, org, tmp_path):
    path = write_xlsx_text_cells(tmp_path / "t.xlsx", [row(**{"Récit": HYPERLINK})])
    result = app.test_cli_runner().invoke(args=["cases", "import", str(path), "--org", org.slug])
    assert result.exit_code == 0, result.output
    _db.session.expire_all()
    assert _db.session.scalar(select(Case.narrative)) == HYPERLINK
