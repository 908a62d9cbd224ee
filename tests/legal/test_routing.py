"""The routing, row by row of domain.md's table « Which remedy: the case decides », with edge dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.cases.deadlines import Rules
from app.legal.routing import Fact, Situation, route_case

TODAY = date(2026, 12, 2)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def fact(days_ago: int, type_: str, outcome: str = "", proven: bool = True, id_: int | None = None) -> Fact:
    return Fact(ago(days_ago), type_, outcome, exhibits=(1,) if proven else (), id=id_)


def route(*events, today=TODAY, **case) -> tuple[str, list[str]]:
    result = route_case(Situation(events=tuple(events), **case), today, Rules())
    return result.route, result.warning_codes()


def test_blocked_before_deposit_with_attempts_on_different_weeks():
    code, warnings = route(fact(90, "TENTATIVE"), fact(75, "ERREUR"), fact(60, "TENTATIVE"), fact(50, "SUBST"),
                           demarche="RENOUV", titre_expiry=ago(-10))
    assert code == "MESURES-UTILES"
    assert warnings == []


def test_complete_deposit_then_silence_past_the_implicit_rejection():
    result = route_case(Situation(events=(fact(140, "DEPOT"),), demarche="PREMIERE"), TODAY, Rules())
    assert result.route == "SUSPENSION"
    assert result.implicit.rejection_on == date(2026, 11, 15)  # 15 July 2026 + 4 months
    assert any("L. 232-4" in r for r in result.reasons)
    assert [d.kind for d in result.deadlines] == ["RECOURS"]


def test_deposit_whose_silence_is_not_yet_a_rejection_is_mesures_utiles_until_then():
    result = route_case(Situation(events=(fact(30, "TENTATIVE"), fact(20, "DEPOT"))), TODAY, Rules())
    assert result.route == "MESURES-UTILES"
    assert result.deadlines[0].kind == "REJET-IMPLICITE"


def test_implicit_rejection_born_today_switches_the_route_today():
    deposit = date(2026, 8, 2)  # + 4 months = 2 December 2026
    situation = Situation(events=(Fact(deposit, "DEPOT", exhibits=(1,)),))
    assert route_case(situation, TODAY - timedelta(days=1), Rules()).route == "MESURES-UTILES"
    assert route_case(situation, TODAY, Rules()).route == "SUSPENSION"


def test_leap_year_deposit_on_31_october_rejection_on_28_february():
    situation = Situation(events=(Fact(date(2027, 10, 31), "DEPOT", exhibits=(1,)),))
    assert route_case(situation, date(2028, 2, 28), Rules()).route == "MESURES-UTILES"
    assert route_case(situation, date(2028, 2, 29), Rules()).route == "SUSPENSION"


def test_order_with_injunction_not_carried_out_is_enforcement():
    code, _ = route(fact(100, "TENTATIVE"), fact(60, "REFERE", "L521-3"), fact(50, "ORDONNANCE", "INJONCTION"))
    assert code == "EXECUTION"


def test_order_carried_out_means_nothing_to_file_unless_new_facts():
    code, _ = route(fact(100, "TENTATIVE"), fact(60, "REFERE"), fact(50, "ORDONNANCE", "INJONCTION"),
                    fact(30, "EXECUTION"))
    assert code == "AUCUNE"
    code, _ = route(fact(100, "TENTATIVE"), fact(60, "REFERE"), fact(50, "ORDONNANCE", "INJONCTION"),
                    fact(30, "EXECUTION"), fact(10, "REFUS"))
    assert code == "SUSPENSION"


def test_rejected_referee_followed_by_a_job_loss_is_new_circumstances():
    result = route_case(Situation(events=(fact(100, "TENTATIVE"), fact(80, "TENTATIVE"), fact(60, "REFERE"),
                                          fact(50, "ORDONNANCE", "REJET"), fact(20, "EMPLOI", id_=9))),
                        TODAY, Rules())
    assert result.route == "NOUVELLES-CIRCONSTANCES"
    assert result.underlying == "MESURES-UTILES"
    assert [f.type for f in result.new_facts] == ["EMPLOI"]
    assert any("perte ou suspension d'emploi" in r for r in result.reasons)


def test_rejected_referee_without_new_facts_is_nothing_to_file():
    code, _ = route(fact(100, "TENTATIVE"), fact(60, "REFERE"), fact(55, "AUDIENCE"), fact(50, "ORDONNANCE", "REJET"))
    assert code == "AUCUNE"


def test_renewal_attempted_after_the_window_warns_hors_delai():
    code, warnings = route(fact(30, "TENTATIVE"), fact(15, "TENTATIVE"), demarche="RENOUV", titre_expiry=ago(10))
    assert code == "MESURES-UTILES"
    assert "HORS-DELAI" in warnings


def test_renewal_window_closing_today_is_still_in_time():
    expiry = TODAY + timedelta(days=60)  # the 60th day before expiry is today
    assert "HORS-DELAI" not in route(fact(0, "TENTATIVE"), demarche="RENOUV", titre_expiry=expiry)[1]
    assert "HORS-DELAI" in route(fact(0, "TENTATIVE"), demarche="RENOUV", titre_expiry=expiry - timedelta(days=1))[1]


def test_renewal_without_expiry_says_what_is_missing_and_does_not_guess():
    result = route_case(Situation(events=(fact(30, "TENTATIVE"),), demarche="RENOUV"), TODAY, Rules())
    assert "HORS-DELAI" not in result.warning_codes()
    assert result.renewal_in_time is None
    assert any("date d'expiration du titre" in m for m in result.missing)


def test_first_request_has_no_renewal_window():
    assert "HORS-DELAI" not in route(fact(30, "TENTATIVE"), demarche="PREMIERE", titre_expiry=ago(400))[1]


def test_attempts_all_in_one_week_warn_meme_semaine():
    code, warnings = route(fact(10, "TENTATIVE"), fact(9, "ERREUR"), fact(4, "TENTATIVE"))
    assert code == "MESURES-UTILES" and "MEME-SEMAINE" in warnings
    assert "MEME-SEMAINE" not in route(fact(10, "TENTATIVE"), fact(3, "TENTATIVE"))[1]  # seven days apart


def test_refusal_followed_by_an_oqtf():
    result = route_case(Situation(events=(fact(200, "DEPOT"), fact(30, "REFUS"), fact(28, "OQTF"))), TODAY, Rules())
    assert result.route == "SUSPENSION"
    assert "OQTF" in result.warning_codes()
    assert result.decision.type == "REFUS"
    assert "jours" in next(w.message for w in result.warnings if w.code == "OQTF")


def test_resolved_and_closed_cases_have_nothing_to_file():
    for status in ("RESOLU", "CLOS"):
        code, warnings = route(fact(200, "DEPOT"), fact(30, "OQTF"), fact(20, "TITRE-OK"), status=status)
        assert (code, warnings) == ("AUCUNE", [])


def test_empty_timeline_is_no_route_with_what_to_record():
    result = route_case(Situation(), TODAY, Rules())
    assert result.route == "AUCUNE" and result.missing


def test_decision_before_the_deposit_is_refused_as_contradictory():
    result = route_case(Situation(events=(fact(10, "DEPOT"), fact(30, "REFUS"))), TODAY, Rules())
    assert result.route == "AUCUNE"
    assert any("avant le dépôt" in r for r in result.reasons)


def test_ordonnance_without_outcome_asks_for_it():
    result = route_case(Situation(events=(fact(60, "REFERE"), fact(50, "ORDONNANCE"))), TODAY, Rules())
    assert result.route == "AUCUNE"
    assert any("issue" in m for m in result.missing)


def test_pending_referee_is_not_duplicated():
    code, _ = route(fact(60, "TENTATIVE"), fact(10, "REFERE", "L521-3"))
    assert code == "AUCUNE"


@pytest.mark.parametrize("order", [0, 1])
def test_events_entered_out_of_order_are_read_in_date_order(order):
    events = [fact(50, "ORDONNANCE", "INJONCTION"), fact(60, "REFERE"), fact(100, "TENTATIVE")]
    if order:
        events.reverse()
    assert route(*events)[0] == "EXECUTION"


def test_unproven_facts_warn_sans_piece():
    result = route_case(Situation(events=(fact(90, "TENTATIVE", proven=False), fact(70, "TENTATIVE"))), TODAY,
                        Rules())
    assert "SANS-PIECE" in result.warning_codes()
    message = next(w.message for w in result.warnings if w.code == "SANS-PIECE")
    assert "3 septembre 2026" in message  # the unproven attempt (90 days ago)
    assert "23 septembre 2026" not in message  # the proven one (70 days ago)


def test_json_has_the_contract_keys():
    payload = route_case(Situation(events=(fact(10, "TENTATIVE"),)), TODAY, Rules()).as_json()
    assert {"route", "reasons", "warnings"} <= payload.keys()
    assert all({"code", "message"} == w.keys() for w in payload["warnings"])


def test_renewal_attempts_all_before_the_window_are_neither_late_nor_in_time():
    expiry = TODAY + timedelta(days=200)  # window opens in 80 days
    result = route_case(Situation(events=(fact(10, "TENTATIVE"), fact(2, "TENTATIVE")), demarche="RENOUV",
                                  titre_expiry=expiry), TODAY, Rules())
    assert result.renewal_in_time is None and "HORS-DELAI" not in result.warning_codes()
    assert any("précèdent l'ouverture" in m for m in result.missing)


def test_an_ordonnance_whose_referee_was_not_recorded_still_decides():
    assert route(fact(100, "TENTATIVE"), fact(50, "ORDONNANCE", "INJONCTION"))[0] == "EXECUTION"
    assert route(fact(100, "TENTATIVE"), fact(50, "ORDONNANCE", "REJET"), fact(10, "EMPLOI"))[0] == \
        "NOUVELLES-CIRCONSTANCES"


def test_an_ordonnance_dated_before_its_referee_is_contradictory():
    result = route_case(Situation(events=(fact(100, "ORDONNANCE", "INJONCTION"), fact(60, "REFERE"))), TODAY,
                        Rules())
    assert result.route == "AUCUNE" and any("antérieure au référé" in r for r in result.reasons)


def test_an_api_delivered_after_the_injunction_means_it_was_carried_out():
    code, _ = route(fact(100, "TENTATIVE"), fact(60, "REFERE"), fact(50, "ORDONNANCE", "INJONCTION"),
                    fact(40, "API"))
    assert code == "AUCUNE"
