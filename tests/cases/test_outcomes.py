"""Outcomes of an ORDONNANCE and kinds of a REFERE: web form, service, import, summary, migration.

The routing and the dossier read the recorded outcome, never a description's words.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.cases import services
from app.cases.importer import ImportRefused, import_file
from app.cases.models import Case, Event
from app.cases.services import CaseValidationError, EventInput
from app.core.spreadsheet import CASE_COLUMNS, EVENT_COLUMNS
from app.exports import rows as rows_mod
from app.exports.rows import CaseRow, EventRow
from app.exports.summary import SummaryBuilder, case_stats, summarise
from app.extensions import db as _db
from tests import factories
from tests.cases.test_importer import row
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]


def count(model):
    return _db.session.scalar(select(func.count(model.id)))


def post_event(client, case, **fields):
    data = {"date": "2025-03-04", "type": "ORDONNANCE", "description": "", "reference": "", "outcome": ""}
    data.update(fields)
    data["csrf_token"] = csrf_token(client, f"/cases/{case.id}")
    return client.post(f"/cases/{case.id}/events", data=data)


# --- web form and service ---------------------------------------------------------------------

def test_case_page_offers_the_outcome_field_with_its_hint(logged_in, volunteer):
    case = factories.case(volunteer.organisation, volunteer)
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Issue de l&#39;ordonnance ou type de référé" in page or "Issue de l'ordonnance ou type de référé" in page
    assert "la voie de droit en dépend" in page
    assert "— Sans objet —" in page and 'value="INJONCTION"' in page and 'value="L521-3"' in page
    assert "Injonction prononcée" in page and "Référé mesures utiles (L. 521-3)" in page


def test_ordonnance_outcome_through_the_form_is_stored_and_shown(logged_in, volunteer):
    case = factories.case(volunteer.organisation, volunteer)
    response = post_event(logged_in, case, outcome="INJONCTION", description="Ordonnance du TA de Lyon")
    assert response.status_code == 302
    event = _db.session.scalar(select(Event))
    assert (event.type, event.outcome) == ("ORDONNANCE", "INJONCTION")
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Ordonnance rendue — <span class=\"outcome\">Injonction prononcée</span>" in page
    assert post_event(logged_in, case, type="REFERE", outcome="L521-3").status_code == 302
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Référé mesures utiles (L. 521-3)</span>" in page


def test_ordonnance_without_outcome_is_accepted_and_flagged(logged_in, volunteer):
    case = factories.case(volunteer.organisation, volunteer)
    assert post_event(logged_in, case).status_code == 302
    assert _db.session.scalar(select(Event.outcome)) == ""
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "issue non renseignée" in page


def test_unknown_outcome_code_is_refused_in_french(logged_in, volunteer):
    case = factories.case(volunteer.organisation, volunteer)
    response = post_event(logged_in, case, outcome="GAGNE", description="Texte à garder")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "ne convient pas" in body and "INJONCTION" in body and "Texte à garder" in body
    assert count(Event) == 0


@pytest.mark.parametrize("type_, outcome, message", [
    ("TENTATIVE", "INJONCTION", "Seuls une ordonnance"),
    ("CCC", "L521-3", "Seuls une ordonnance"),
    ("REFERE", "INJONCTION", "ne convient pas"),  # an ordonnance's outcome is not a référé's kind
    ("ORDONNANCE", "L521-1", "ne convient pas"),
])
def test_outcome_that_does_not_fit_the_type_is_refused(logged_in, volunteer, type_, outcome, message):
    case = factories.case(volunteer.organisation, volunteer)
    response = post_event(logged_in, case, type=type_, outcome=outcome)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(Event) == 0


def test_service_cleans_and_upper_cases_the_outcome(db, org, volunteer):
    case = factories.case(org, volunteer)
    event = services.add_event(case, EventInput(date(2025, 3, 1), "ORDONNANCE", outcome=" non-lieu "), volunteer)
    assert event.outcome == "NON-LIEU"
    with pytest.raises(CaseValidationError) as exc:
        services.add_event(case, EventInput(date(2025, 3, 1), "AUDIENCE", outcome="REJET"), volunteer)
    assert set(exc.value.errors) == {"outcome"}


# --- civility and birth place -------------------------------------------------------------------

def case_form(**overrides):
    data = {"prefecture": "69", "demarche": "RENOUV", "status": "OUVERT", "primary_blocage": "API-ABS",
            "last_name": "Koné", "first_name": "Aminata"}
    data.update(overrides)
    return data


def test_civility_and_birth_place_through_the_case_form(logged_in):
    data = case_form(civility="Mme", birth_place="Bamako (Mali)", csrf_token=csrf_token(logged_in, "/cases/new"))
    response = logged_in.post("/cases/new", data=data)
    assert response.status_code == 302
    case = _db.session.scalar(select(Case))
    assert (case.person.civility, case.person.birth_place) == ("Mme", "Bamako (Mali)")
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Mme Aminata KONÉ" in page and "Lieu de naissance" in page and "Bamako (Mali)" in page
    form = logged_in.get(f"/cases/{case.id}/edit").get_data(as_text=True)
    assert "Civilité (facultatif)" in form and 'value="Bamako (Mali)"' in form
    assert '<option selected value="Mme">' in form or '<option value="Mme" selected>' in form


def test_unknown_civility_is_refused(logged_in):
    data = case_form(civility="Dr", csrf_token=csrf_token(logged_in, "/cases/new"))
    response = logged_in.post("/cases/new", data=data)
    assert response.status_code == 422
    assert "Civilité inconnue" in response.get_data(as_text=True)
    assert count(Case) == 0


def test_civility_is_optional(db, org):
    case = factories.case(org, None)
    assert (case.person.civility, case.person.birth_place) == ("", "")
    with pytest.raises(CaseValidationError) as exc:
        factories.case(org, None, civility="Monsieur")
    assert set(exc.value.errors) == {"civility"}


# --- import: the optional `Issue` column --------------------------------------------------------

def write_xlsx(path: Path, cases, events, event_header) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Cas"
    sheet.append(CASE_COLUMNS)
    for r in cases:
        sheet.append(r)
    chrono = workbook.create_sheet("Chronologie")
    chrono.append(event_header)
    for e in events:
        chrono.append(e)
    workbook.save(path)
    return path


WITH_ISSUE = EVENT_COLUMNS + ["Issue"]


def test_import_reads_the_issue_column_codes_and_labels(tmp_path, org):
    path = write_xlsx(tmp_path / "issue.xlsx", [row(**{"Référence": "R-1"}), row(**{"Référence": "R-2"})], [
        ["R-1", "01/03/2025", "REFERE", "Requête", "L. 521-3"],
        ["R-1", "15/03/2025", "Ordonnance rendue", "Pas un mot décisif", "injonction"],
        ["R-1", "20/03/2025", "CCC", "Ticket", None],
        ["R-2", "01/03/2025", "REFERE", "", "l521-1"],
        ["R-2", "10/03/2025", "ORDONNANCE", "", "Non-lieu"],
        ["R-2", "11/03/2025", "ORDONNANCE", "", "désistement"],
        ["R-2", "12/03/2025", "ORDONNANCE", "", "REJET"],
        ["R-2", "13/03/2025", "ORDONNANCE", "", "Injonction prononcée"],
    ], WITH_ISSUE)
    report = import_file(path, org)
    _db.session.commit()
    assert (report.cases, report.events) == (2, 8)
    outcomes = {ref: [(e.type, e.outcome) for e in _db.session.scalar(select(Case).where(Case.reference == ref)).events]
                for ref in ("R-1", "R-2")}
    assert outcomes["R-1"] == [("REFERE", "L521-3"), ("ORDONNANCE", "INJONCTION"), ("CCC", "")]
    assert [o for _t, o in outcomes["R-2"]] == ["L521-1", "NON-LIEU", "DESISTEMENT", "REJET", "INJONCTION"]


def test_import_refuses_a_bad_issue_naming_row_and_column(tmp_path, org):
    path = write_xlsx(tmp_path / "bad.xlsx", [row(**{"Référence": "R-1"})], [
        ["R-1", "01/03/2025", "REFERE", "", "L521-3"],
        ["R-1", "15/03/2025", "ORDONNANCE", "", "gagné"],
        ["R-1", "16/03/2025", "TENTATIVE", "", "REJET"],
        ["R-1", "17/03/2025", "ORDONNANCE", "", "L521-2"],
    ], WITH_ISSUE)
    with pytest.raises(ImportRefused) as exc:
        import_file(path, org)
    problems = exc.value.report.problems
    assert [(p.sheet, p.row, p.column) for p in problems] == [
        ("Chronologie", 3, "Issue"), ("Chronologie", 4, "Issue"), ("Chronologie", 5, "Issue")]
    text = [str(p) for p in problems]
    assert "ligne 3, colonne « Issue »" in text[0] and "gagné" in text[0] and "ne convient pas" in text[0]
    assert "seuls une ordonnance" in text[1]
    _db.session.rollback()
    assert count(Case) == 0 and count(Event) == 0


def test_import_without_issue_column_still_works(tmp_path, org):
    path = write_xlsx(tmp_path / "old.xlsx", [row(**{"Référence": "R-1"})], [
        ["R-1", "01/03/2025", "REFERE", "Référé mesures utiles"],
        ["R-1", "15/03/2025", "ORDONNANCE", "Injonction"],
    ], EVENT_COLUMNS)
    report = import_file(path, org)
    _db.session.commit()
    assert report.events == 2
    # Without the column nothing is guessed from the words.
    assert _db.session.scalars(select(Event.outcome)).all() == ["", ""]


def test_import_still_refuses_an_unknown_chronologie_column(tmp_path, org):
    path = write_xlsx(tmp_path / "x.xlsx", [row(**{"Référence": "R-1"})], [["R-1", "01/03/2025", "REFERE", "", "x"]],
                      EVENT_COLUMNS + ["Résultat"])
    with pytest.raises(ImportRefused) as exc:
        import_file(path, org)
    assert "colonne(s) inconnue(s) « Résultat »" in str(exc.value.report.problems[0])


# --- summary: a référé is won from its recorded outcome --------------------------------------------

def refere_row(case_id, *events):
    return CaseRow(id=case_id, reference=f"R-{case_id}", pseudonym=f"P-{case_id}", prefecture="69",
                   demarche="RENOUV", status="EN-COURS", opened_on=date(2025, 1, 1),
                   events=[EventRow(i, day, type_, description, "", outcome)
                           for i, (day, type_, description, outcome) in enumerate(events, start=1)])


REFERE = (date(2025, 2, 1), "REFERE", "", "L521-3")


def test_won_only_from_the_outcome_never_the_description(app):
    from app.cases.deadlines import Rules

    rules = Rules.from_config(app.config)
    rows = [
        refere_row(1, REFERE, (date(2025, 2, 15), "ORDONNANCE", "", "INJONCTION")),                 # won
        refere_row(2, REFERE, (date(2025, 2, 15), "ORDONNANCE", "Injonction refusée : rejet", "REJET")),  # lost
        refere_row(3, REFERE, (date(2025, 2, 15), "ORDONNANCE", "Injonction au préfet", "")),       # not recorded
        refere_row(4, REFERE),                                                                      # pending
        refere_row(5, REFERE, (date(2025, 2, 15), "ORDONNANCE", "", "INJONCTION"),
                   (date(2025, 3, 15), "EXECUTION", "", "")),                                       # won
        refere_row(6, (date(2025, 2, 15), "TENTATIVE", "injonction", "")),                          # no référé
    ]
    stats = [case_stats(r, date(2025, 6, 1), rules) for r in rows]
    assert [s.refere_won for s in stats] == [True, False, False, False, True, False]
    assert [s.refere_pending for s in stats] == [False, False, True, True, False, False]
    builder = SummaryBuilder({})
    for s in stats:
        builder.add(s)
    table = {r[0]: r[1:] for r in builder.result().table("referes").rows}
    assert table["Référés déposés"] == [5, 6, 5 / 6]
    assert table["Référés en attente ou issue non renseignée (exclus du taux)"] == [2, 5, 2 / 5]
    assert table["Référés gagnés (injonction ou exécution)"] == [2, 3, 2 / 3]
    figures = dict(builder.result().figures)
    assert figures["Référés gagnés / issue connue"] == "2 / 3 (2 en attente)"


def test_a_later_referé_reopens_the_question(app):
    from app.cases.deadlines import Rules

    row_ = refere_row(1, REFERE, (date(2025, 2, 15), "ORDONNANCE", "", "REJET"), (date(2025, 4, 1), "REFERE", "", ""))
    stats = case_stats(row_, date(2025, 6, 1), Rules.from_config(app.config))
    assert (stats.refere, stats.refere_won, stats.refere_pending) == (True, False, True)


def test_anonymised_rows_carry_outcomes_but_no_description(db, org):
    case = factories.case(org, None)
    factories.event(case, "REFERE", date(2025, 2, 1), "Requête n° 2501234", outcome="L521-3")
    factories.event(case, "ORDONNANCE", date(2025, 2, 15), "Injonction au préfet, M. Diallo", outcome="REJET")
    key = rows_mod.pseudonym_key("test")
    [anonymised] = rows_mod.iter_case_rows([case.id], identified=False, key=key)
    assert [(e.type, e.outcome, e.description, e.reference) for e in anonymised.events] == [
        ("REFERE", "L521-3", "", ""), ("ORDONNANCE", "REJET", "", "")]
    assert not anonymised.refere_won and not anonymised.refere_pending
    [identified] = rows_mod.iter_case_rows([case.id], identified=True, key=key)
    assert identified.events[1].description == "Injonction au préfet, M. Diallo"
    assert identified.events[1].outcome == "REJET"
    from app.cases.deadlines import Rules
    from flask import current_app

    summary = summarise([anonymised], date(2025, 6, 1), Rules.from_config(current_app.config), {})
    assert {r[0]: r[1] for r in summary.table("referes").rows}["Référés gagnés (injonction ou exécution)"] == 0


# --- the migration's reading of old descriptions --------------------------------------------------

@pytest.fixture(scope="module")
def certain_outcome():
    path = ROOT / "migrations" / "versions" / "0007_legal.py"
    spec = importlib.util.spec_from_file_location("migration_0007_legal", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.certain_outcome


@pytest.mark.parametrize("type_, description, expected", [
    ("ORDONNANCE", "Ordonnance : injonction au préfet d'enregistrer la demande sous 15 jours", "INJONCTION"),
    ("ORDONNANCE", "Ordonnance de rejet : urgence non caractérisée", "REJET"),
    ("ORDONNANCE", "pas d'injonction", None),
    ("ORDONNANCE", "Non-lieu à statuer, l'API a été délivrée", "NON-LIEU"),
    ("ORDONNANCE", "Injonction demandée, requête rejetée", None),  # two categories: in doubt
    ("ORDONNANCE", "", None),
    ("REFERE", "Référé mesures utiles déposé", "L521-3"),
    ("REFERE", "Référé-suspension contre le rejet implicite", "L521-1"),
    ("REFERE", "Requête déposée au TA", None),
])
def test_migration_fills_only_certain_outcomes(certain_outcome, type_, description, expected):
    assert certain_outcome(type_, description) == expected
