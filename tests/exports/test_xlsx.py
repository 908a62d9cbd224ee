"""The coordinators' workbook: anonymisation, formula guard, charts, access, audit, re-import."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date, datetime

from openpyxl import load_workbook
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.core.spreadsheet import CASE_COLUMNS, EVENT_COLUMNS
from tests import factories
from tests.conftest import login
from tests.exports.helpers import xlsx_cells

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tcache",
           "<script>alert(1)</script> {{7*7}} {% raw %} ]]>", "ctrl\x01\x02\x1f fin", "é" * 30_000]
NAMES = [("الهاشمي", "محمد"), ("Иванов", "Иван"), ("Nguyễn", "Thị Minh Khai")]
# The odd cases' référé: its kind and the ordonnance's outcome. Every ordonnance's text speaks of
# an injonction: only the recorded outcome counts (case 5 lost, case 7's outcome not recorded).
REFERES = {1: ("L521-3", "INJONCTION"), 3: ("", "INJONCTION"), 5: ("L521-1", "REJET"), 7: ("", "")}


def _population(org, other_org, actor=None):
    cases = []
    for i, narrative in enumerate(HOSTILE):
        last, first = NAMES[i % len(NAMES)]
        case = factories.case(org, actor, last_name=last, first_name=first, narrative=narrative,
                              numero_etranger=f"07{i:08d}", birth_date=date(1980 + i, 1, 2), phone=f"06000000{i:02d}",
                              email=f"p{i}@example.org", titre_expiry=date(2025, 1, 10), titre_actuel="salarié",
                              prefecture="69" if i % 2 else "2A", blocages=["API-ABS", "RDV"] if i % 2 else ["ACC-AUTH"],
                              consequences=["EMPLOI"] if i % 3 == 0 else [], first_attempt=date(2025, 1, 5))
        factories.event(case, "TENTATIVE", date(2025, 1, 6), narrative[:9000])
        factories.event(case, "CCC", date(2025, 1, 20), "=1+1")
        if i % 2:
            kind, outcome = REFERES[i]
            factories.event(case, "REFERE", date(2025, 2, 1), outcome=kind)
            factories.event(case, "ORDONNANCE", date(2025, 2, 15), "Injonction de délivrer une API", outcome=outcome)
        cases.append(case)
    cases.append(factories.case(org, actor, last_name="", first_name=""))  # no person, no event
    foreign = factories.case(other_org, None, last_name="Étranger", first_name="Autre", numero_etranger="0999999999")
    return cases, foreign


def _get(client, query=""):
    response = client.get("/exports/cases.xlsx" + query)
    return response


def _all_strings(content: bytes) -> str:
    """Every string stored in the workbook's XML, whatever the sheet."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "\n".join(archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".xml"))


def test_anonymised_workbook(client, org, other_org, coordinator, db):
    cases, foreign = _population(org, other_org)
    login(client, coordinator)
    response = _get(client)
    assert response.status_code == 200
    content = response.data
    sheets = xlsx_cells(content)
    assert list(sheets) == ["Cas", "Chronologie", "Synthèse", "Traçabilité"]
    header, *rows = sheets["Cas"]
    assert header[0] == "Pseudonyme" and not set(header) & {"Nom", "Prénom", "Date de naissance", "Numéro étranger",
                                                               "Téléphone", "Courriel", "Récit", "Référence"}
    assert len(rows) == len(cases)  # every case of the association, none of the other
    assert len({r[0] for r in rows}) == len(cases) and all(r[0].startswith("P-") for r in rows)
    xml = _all_strings(content)
    for case in cases + [foreign]:
        assert case.reference not in xml
    for last, first in NAMES + [("Étranger", "Autre")]:
        assert last not in xml and first not in xml
    for needle in ("0700000001", "0999999999", "example.org", "HYPERLINK", "<script>", "Injonction de délivrer"):
        assert needle not in xml
    # Chronologie: pseudonym, date, type, outcome (a code, shown by its label) — no description.
    assert sheets["Chronologie"][0] == ["Pseudonyme", "Date", "Type", "Issue"]
    assert isinstance(sheets["Chronologie"][1][1], datetime)
    issues = [r[3] for r in sheets["Chronologie"][1:] if r[3]]
    assert sorted(issues) == sorted(["Référé mesures utiles (L. 521-3)", "Injonction prononcée", "Injonction prononcée",
                                     "Référé-suspension (L. 521-1)", "Rejet"])
    won = [r[header.index("Référé gagné")] for r in rows]
    assert sorted(won) == sorted(["non"] * 6 + ["oui", "oui", "en attente"])
    # Dates are real date cells; counts by préfecture include Corse-du-Sud.
    workbook = load_workbook(io.BytesIO(content))
    cas = workbook["Cas"]
    assert cas.freeze_panes == "A2" and cas.auto_filter.ref == f"A1:Y{len(cases) + 1}"
    expiry = cas.cell(row=2, column=header.index("Expiration du titre") + 1)
    assert expiry.is_date and expiry.number_format == "DD/MM/YYYY"
    assert cas.column_dimensions["A"].width >= 15
    assert not any(cell.data_type == "f" for ws in workbook.worksheets for row in ws.iter_rows() for cell in row)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheets_xml = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert sheets_xml and not any("<f>" in x or "<f " in x for x in sheets_xml)
    synthese = [r for r in sheets["Synthèse"]]
    flat = [str(v) for r in synthese for v in r if v is not None]
    assert "Jours bloqués" in flat and "Médiane" in flat and "90e centile" in flat
    assert "Référés déposés" in flat and any("2A – Corse-du-Sud" == v for v in flat)
    assert "Centre de contact citoyen (CCC)" in flat
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert len([n for n in archive.namelist() if n.startswith("xl/charts/chart")]) >= 2
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.xlsx"))
    assert record.actor_id == coordinator.id
    assert hashlib.sha256(content).hexdigest() in record.detail and '"rows":9' in record.detail


def test_referes_and_durations_are_counted(client, org, other_org, coordinator):
    _population(org, other_org)
    login(client, coordinator)
    rows = xlsx_cells(_get(client).data)["Synthèse"]
    by_label = {r[0]: r for r in rows if r and isinstance(r[0], str)}
    assert by_label["Référés déposés"][1:4] == [4, 9, 4 / 9]
    # Won from the recorded outcome only; the one without outcome is apart and out of the rate.
    assert by_label["Référés en attente ou issue non renseignée (exclus du taux)"][1:3] == [1, 4]
    assert by_label["Référés dont l'issue est connue"][1:3] == [3, 4]
    assert by_label["Référés gagnés (injonction ou exécution)"][1:4] == [2, 3, 2 / 3]
    assert by_label["Jours sans droits (arrêtés à la résolution ou à la clôture)"][1] == 8  # the case without expiry is not counted
    assert by_label["Centre de contact citoyen (CCC)"][1] == 8


def test_filters_are_the_search_parameters(client, org, other_org, coordinator):
    _population(org, other_org)
    login(client, coordinator)
    rows = xlsx_cells(_get(client, "?prefecture=2A&code=ACC-AUTH").data)["Cas"][1:]
    assert len(rows) == 4 and {r[1] for r in rows} == {"2A"}
    rows = xlsx_cells(_get(client, "?status=CLOS").data)["Cas"][1:]
    assert rows == []


def test_identified_export_is_refused_and_audited_for_coordinators(client, org, coordinator, db):
    factories.case(org)
    login(client, coordinator)
    assert _get(client, "?identified=1&prefecture=69").status_code == 403
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.refused"))
    assert record is not None and record.actor_id == coordinator.id and '"prefecture":"69"' in record.detail
    assert db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.xlsx")) is None


def test_volunteers_get_no_workbook(client, org, volunteer):
    login(client, volunteer)
    assert _get(client).status_code == 403
    assert client.get("/exports/dossier.docx").status_code == 403
    assert client.get("/dashboard").status_code == 403


def test_identified_export_neutralises_formulas(client, org, other_org, admin):
    _population(org, other_org)
    login(client, admin)
    content = _get(client, "?identified=1").data
    sheets = xlsx_cells(content)
    assert sheets["Cas"][0] == CASE_COLUMNS and sheets["Chronologie"][0] == EVENT_COLUMNS + ["Issue"]
    narratives = [r[CASE_COLUMNS.index("Récit")] for r in sheets["Cas"][1:]]
    assert "'=HYPERLINK(\"http://evil\",\"x\")" in narratives
    assert "'+cmd|' /C calc'!A0" in narratives and "'@SUM(1+1)" in narratives and "'-2+3" in narratives
    assert "<script>alert(1)</script> {{7*7}} {% raw %} ]]>" in narratives
    assert "ctrl fin" in narratives  # control characters stripped
    assert "é" * 30_000 in narratives
    assert "'=1+1" in [r[3] for r in sheets["Chronologie"][1:]]
    names = [r[1] for r in sheets["Cas"][1:]]
    assert "الهاشمي" in names and "Иванов" in names and "Nguyễn" in names
    workbook = load_workbook(io.BytesIO(content))
    assert not any(cell.data_type == "f" for ws in workbook.worksheets for row in ws.iter_rows() for cell in row)
    # Dates are date cells in the workbook's format, not text; the filter covers every row.
    births = [row[CASE_COLUMNS.index("Date de naissance")] for row in workbook["Cas"].iter_rows(min_row=2)]
    assert {cell.value for cell in births if cell.value} >= {datetime(1980, 1, 2), datetime(1987, 1, 2)}
    assert all(cell.is_date and cell.number_format == "DD/MM/YYYY" for cell in births if cell.value)
    assert workbook["Cas"].auto_filter.ref == f"A1:R{len(narratives) + 1}"
    assert workbook["Cas"].dimensions == f"A1:R{len(narratives) + 1}"


def test_identified_text_reads_back_as_typed(client, org, admin):
    """Markup-like text stays text. xlsxwriter's constant-memory writer copies a text framed by
    <r>…</r> into the sheet as raw rich-text XML: the first read back empty, the second as « x »."""
    typed = ["<r>gras</r>", "<r><t>x</t></r>", "&amp; <b> & > </sheetData>", "1 & 2 < 3"]
    for i, narrative in enumerate(typed):
        case = factories.case(org, None, last_name=f"Nom{i}", first_name="Awa", narrative=narrative)
        factories.event(case, "TENTATIVE", date(2025, 1, 6), narrative)
    login(client, admin)
    sheets = xlsx_cells(_get(client, "?identified=1").data)
    assert sorted(r[CASE_COLUMNS.index("Récit")] for r in sheets["Cas"][1:]) == sorted(typed)
    assert sorted(r[3] for r in sheets["Chronologie"][1:]) == sorted(typed)


def test_free_text_in_the_synthese_and_excel_limits(client, org, admin):
    """A titre is typed freely and is a row of the Synthèse, which xlsxwriter writes: markup stays
    text there too. A text past Excel's cell limit is cut by UTF-16 units (an emoji counts two),
    and no part is forced to zip64 (Excel repairs small entries that are)."""
    import struct

    factories.case(org, None, last_name="Nom", first_name="Awa", titre_actuel="<r>&</r>",
                   narrative="\U0001F4C4" * 20_000)
    factories.case(org, None, last_name="Nom", first_name="Ali", titre_actuel="<r>&</r>")
    login(client, admin)
    for query in ("", "?identified=1"):
        content = _get(client, query).data
        sheets = xlsx_cells(content)  # parses every sheet: malformed XML fails here
        assert any("<r>&</r>" in row for row in sheets["Synthèse"]) or query
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist():
                version_needed = struct.unpack("<H", content[info.header_offset + 4:info.header_offset + 6])[0]
                assert version_needed < 45, info.filename
    narrative = next(r[CASE_COLUMNS.index("Récit")] for r in sheets["Cas"][1:] if r[CASE_COLUMNS.index("Récit")])
    assert len(narrative.encode("utf-16-le")) // 2 == 32_766 and narrative == "\U0001F4C4" * 16_383


def test_identified_round_trip_through_cases_import(app, client, tmp_path, org, other_org, admin):
    _population(org, other_org)
    login(client, admin)
    first = _get(client, "?identified=1").data
    path = tmp_path / "export.xlsx"
    path.write_bytes(first)
    target = factories.organisation("assoc-marseille", "MRS")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cases", "import", str(path), "--org", target.slug])
    assert result.exit_code == 0, result.output
    out = tmp_path / "again.xlsx"
    result = runner.invoke(args=["exports", "xlsx", "--org", target.slug, "--identified", "-o", str(out)])
    assert result.exit_code == 0, result.output
    before, after = xlsx_cells(first), xlsx_cells(out.read_bytes())
    assert after["Cas"] == before["Cas"]
    assert after["Chronologie"] == before["Chronologie"]
    issues = [r[4] for r in after["Chronologie"][1:] if r[4]]
    assert sorted(issues) == ["INJONCTION", "INJONCTION", "L521-1", "L521-3", "REJET"]
    # and the imported timeline holds them as outcomes, not as text
    from app.cases.models import Case, Event
    from app.extensions import db

    imported = db.session.scalars(select(Event.outcome).join(Case).where(Case.org_id == target.id,
                                                                         Event.outcome != "")).all()
    assert sorted(imported) == ["INJONCTION", "INJONCTION", "L521-1", "L521-3", "REJET"]


def test_cli_anonymised_with_text_query(app, tmp_path, org, other_org, db):
    _population(org, other_org)
    out = tmp_path / "anon.xlsx"
    result = app.test_cli_runner().invoke(args=["exports", "xlsx", "--org", org.slug, "-o", str(out)])
    assert result.exit_code == 0, result.output
    sheets = xlsx_cells(out.read_bytes())
    assert len(sheets["Cas"]) == 10
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "export.xlsx"))
    assert record.actor_id is None and '"source":"cli"' in record.detail and '"identified":false' in record.detail
    result = app.test_cli_runner().invoke(args=["exports", "xlsx", "--org", "nope", "-o", str(out)])
    assert result.exit_code != 0


def test_text_query_selects_like_search(app, tmp_path, org, other_org):
    factories.case(org, None, narrative="Le guichet PAN de Vénissieux renvoie au CCC.")
    factories.case(org, None, narrative="Autre histoire.")
    factories.case(other_org, None, narrative="Le guichet PAN de Vénissieux, autre association.")
    out = tmp_path / "q.xlsx"
    result = app.test_cli_runner().invoke(args=["exports", "xlsx", "--org", org.slug, "--q", "Vénissieux",
                                                "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert len(xlsx_cells(out.read_bytes())["Cas"]) == 2  # header + the one matching case
