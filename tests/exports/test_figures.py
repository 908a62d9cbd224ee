"""The figures' rules (shared/domain.md « Aggregated dossier »), each on a hand-built set of cases.

Pure: CaseRow in, Summary out — no database, so each rule is checked on exactly the facts given.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.cases.deadlines import Rules
from app.exports.rows import CaseRow, EventRow
from app.exports.summary import UNKNOWN_MONTH, official_quote, summarise

TODAY = date(2025, 6, 30)
RULES = Rules()
OFFICIAL = {"rate_percent": 0.4, "reports": 4377, "requests": 1120942, "year": 2024,
            "wording": "blocage de l'usager signalé au CCC et non résolu par celui-ci",
            "citation": "réponse du ministère de l'intérieur à une question écrite, JO Sénat du 5 juin 2025, p. 3198"}


def row(n: int, *events: tuple[str, date] | tuple[str, date, str], status: str = "EN-COURS",
        expiry: date | None = None, opened: date | None = date(2025, 1, 10), prefecture: str = "69",
        blocages=("API-ABS",), titre: str = "salarié") -> CaseRow:
    out = CaseRow(id=n, reference=f"R-{n}", pseudonym=f"P-{n:04d}", prefecture=prefecture, demarche="RENOUV",
                  status=status, titre_actuel=titre, titre_expiry=expiry, opened_on=opened, blocages=tuple(blocages))
    for i, event in enumerate(events):
        kind, when = event[0], event[1]
        out.events.append(EventRow(id=n * 100 + i, date=when, type=kind, outcome=event[2] if len(event) > 2 else ""))
    out.events.sort(key=lambda e: e.date)
    return out


def rows_by_label(summary, key):
    return {r[0]: r for r in summary.table(key).rows}


def test_days_without_rights_stop_at_the_favourable_decision_and_at_closure():
    expiry = date(2025, 1, 31)
    granted = row(1, ("TENTATIVE", date(2025, 1, 5)), ("TITRE-OK", date(2025, 3, 1)), expiry=expiry, status="RESOLU")
    closed = row(2, ("TENTATIVE", date(2025, 1, 5)), ("PAN", date(2025, 2, 10)), expiry=expiry, status="CLOS")
    ongoing = row(3, ("TENTATIVE", date(2025, 1, 5)), expiry=expiry)
    summary = summarise([granted, closed, ongoing], TODAY, RULES, {})
    durations = rows_by_label(summary, "durations")
    rights = durations["Jours sans droits (arrêtés à la résolution ou à la clôture)"]
    # 1 Feb → 28 Feb (28 days), 1 Feb → 10 Feb (10 days), 1 Feb → 30 Jun (150 days): the resolved and
    # closed cases stop counting, the open one counts to the export's day.
    assert rights[1] == 3 and rights[4] == 150 and rights[2] == 28
    assert summary.trace_ids["durations:rights"] == ["P-0001", "P-0002", "P-0003"]


def test_an_api_without_recorded_end_is_an_estimate_counted_apart():
    expiry = date(2025, 1, 31)
    # API on 1 Mar, its end not recorded: its assumed 3 months (to 31 May) count as covered,
    # and the 92 days they rest on are an estimate, never added to the total.
    case = row(1, ("TENTATIVE", date(2025, 1, 5)), ("API", date(2025, 3, 1)), expiry=expiry)
    summary = summarise([case], TODAY, RULES, {})
    durations = summary.table("durations").rows
    certain, estimate = durations[1], durations[2]
    assert certain[2] == 28 + 30  # February, then June after the assumed end
    assert estimate[1] == 1 and estimate[2] == 92
    assert summary.trace_ids["durations:estimated"] == ["P-0001"]


def test_months_with_no_new_case_are_shown_as_zero_up_to_the_export_month():
    cases = [row(1, opened=date(2025, 1, 3)), row(2, opened=date(2025, 4, 20)), row(3, opened=None)]
    summary = summarise(cases, TODAY, RULES, {})
    months = {r[0]: r[1] for r in summary.table("month").rows}
    assert months == {"2025-01": 1, "2025-02": 0, "2025-03": 0, "2025-04": 1, "2025-05": 0, "2025-06": 0,
                      UNKNOWN_MONTH: 1}


def test_a_case_without_any_date_is_counted_without_a_duration():
    undated = row(1, opened=None)
    summary = summarise([undated], TODAY, RULES, {})
    assert summary.total == 1
    assert summary.table("durations").rows[0][1] == 0  # no days blocked invented from the export's date
    assert {r[0]: r[1] for r in summary.table("month").rows} == {UNKNOWN_MONTH: 1}


def test_every_rate_has_its_numerator_and_denominator_and_referes_read_outcomes():
    won = row(1, ("REFERE", date(2025, 2, 1), "L521-3"), ("ORDONNANCE", date(2025, 2, 20), "INJONCTION"))
    lost = row(2, ("REFERE", date(2025, 2, 1), "L521-3"), ("ORDONNANCE", date(2025, 2, 20), "REJET"))
    pending = row(3, ("REFERE", date(2025, 2, 1), "L521-3"))
    unknown = row(4, ("REFERE", date(2025, 2, 1)), ("ORDONNANCE", date(2025, 2, 20)))  # outcome not recorded
    none = row(5)
    summary = summarise([won, lost, pending, unknown, none], TODAY, RULES, {})
    referes = rows_by_label(summary, "referes")
    assert referes["Référés déposés"][1:] == [4, 5, 4 / 5]
    assert referes["Référés en attente ou issue non renseignée (exclus du taux)"][1:] == [2, 4, 2 / 4]
    assert referes["Référés gagnés (injonction ou exécution)"][1:] == [1, 2, 1 / 2]
    assert summary.trace_ids["refere:won"] == ["P-0001"]
    for table in summary.tables:
        if "Part" in table.headers:
            assert {"Dossiers", "Sur"} <= set(table.headers) or table.key == "remedies", table.key


def test_cases_that_never_reached_a_deposit_are_counted():
    never = row(1, ("TENTATIVE", date(2025, 1, 5)), ("ERREUR", date(2025, 1, 6)), ("CCC", date(2025, 1, 7)))
    never_closed = row(2, ("TENTATIVE", date(2025, 1, 5)), status="CLOS")
    deposited = row(3, ("DEPOT", date(2025, 1, 5)))
    decided = row(4, ("TITRE-OK", date(2025, 2, 5)), status="RESOLU")  # a decision counts as deposited
    summary = summarise([never, never_closed, deposited, decided], TODAY, RULES, {})
    key = rows_by_label(summary, "key")
    assert key["Demande jamais déposée sur l'ANEF (aucun dépôt enregistré)"][1:] == [2, 4, 0.5]
    assert key["… dont dossiers toujours ouverts"][1:3] == [1, 2]
    assert summary.trace_ids["never_deposited"] == ["P-0001", "P-0002"]
    assert ("Demandes jamais déposées", "2 / 4 (50,0\u00a0%)") in summary.figures


def test_the_ministry_figure_is_quoted_with_its_wording_and_source():
    summary = summarise([row(1, ("CCC", date(2025, 1, 7)))], TODAY, RULES, {}, OFFICIAL)
    quote = official_quote(OFFICIAL)
    assert "« blocage de l'usager signalé au CCC et non résolu par celui-ci »" in quote
    assert "JO Sénat du 5 juin 2025, p. 3198" in quote and "4\u00a0377" in quote and "1\u00a0120\u00a0942" in quote
    assert "n'est pas un taux de blocage" in quote
    assert summary.comparison[0] == quote
    ccc = rows_by_label(summary, "comparison")["… non résolus à la date de l'export"]
    assert ccc[1:3] == [1, 1]


def test_every_figure_is_traceable_to_the_pseudonyms_behind_it():
    cases = [row(i, ("CCC", date(2025, 1, 7)), prefecture="69" if i < 3 else "75") for i in range(1, 6)]
    summary = summarise(cases, TODAY, RULES, {})
    traces = {(title, label): (count, ids) for title, label, count, ids in summary.traces()}
    assert traces[("Dossiers par préfecture", "69 – Rhône")] == (2, ["P-0001", "P-0002"])
    assert traces[("Dossiers par préfecture", "75 – Paris")] == (3, ["P-0003", "P-0004", "P-0005"])
    for (_, _), (count, ids) in traces.items():
        assert count == len(ids) == len(set(ids))


@pytest.fixture
def small_and_large():
    """Seven cases in the Rhône, one in the Ardèche: the Ardèche cell must not show."""
    return [row(i, prefecture="69") for i in range(1, 8)] + [row(8, prefecture="07", titre="Mme X, titre rare")]


def test_a_cell_of_one_is_hidden_with_its_rate_and_its_trace(small_and_large):
    summary = summarise(small_and_large, TODAY, RULES, {}, threshold=5)
    prefectures = rows_by_label(summary, "prefecture")
    ardeche = prefectures["07 – Ardèche"]
    assert ardeche[1] == "< 5" and ardeche[3] is None
    assert all(label != "07 – Ardèche" for _, label, _, _ in summary.traces())
    assert summary.by_departement["07"] is None
    # A single hidden cell would follow from the total (8 − 7): a second one is hidden too.
    assert prefectures["69 – Rhône"][1] == "< 5"
    # The freely typed titre of the rare cell does not show either.
    assert all("Mme X" not in str(r[0]) for r in summary.table("titre").rows)
    # Zero is not hidden: a month with no case says 0.
    assert 0 in [r[1] for r in summary.table("month").rows]


def test_the_pseudonymised_summary_keeps_exact_counts(small_and_large):
    summary = summarise(small_and_large, TODAY, RULES, {})
    assert rows_by_label(summary, "prefecture")["07 – Ardèche"][1] == 1
    assert not summary.anonymised
