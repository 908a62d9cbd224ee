"""Computed dates are pure functions: leap years, missing dates, events out of order."""

from datetime import date

import pytest

from app.cases.deadlines import (CaseFacts, Rules, TimelineFact, add_months, api_periods,
                                 days_without_rights, implicit_rejection, renewal_window,
                                 rights_gaps, urgency)

RULES = Rules()


def facts(expiry=None, status="OUVERT", *events):
    return CaseFacts(status=status, titre_expiry=expiry,
                     events=tuple(TimelineFact(d, t) for d, t in events))


@pytest.mark.parametrize("start, months, expected", [
    (date(2024, 1, 31), 1, date(2024, 2, 29)),   # leap year
    (date(2025, 1, 31), 1, date(2025, 2, 28)),
    (date(2024, 10, 31), 4, date(2025, 2, 28)),
    (date(2024, 11, 15), 2, date(2025, 1, 15)),  # year change
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
])
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_days_without_rights_unknown_without_expiry():
    assert days_without_rights(facts(None), date(2025, 6, 1), RULES) is None


def test_days_without_rights_zero_while_titre_valid():
    assert days_without_rights(facts(date(2025, 7, 1)), date(2025, 6, 1), RULES) == 0


def test_days_without_rights_counts_to_today_across_leap_day():
    # Expired 31 Jan 2024: without rights from 1 Feb to 1 Mar 2024 inclusive = 29 + 1 days.
    assert days_without_rights(facts(date(2024, 1, 31)), date(2024, 3, 1), RULES) == 30


def test_api_covers_part_of_the_gap_and_events_out_of_order():
    f = facts(date(2025, 1, 10), "OUVERT",
              (date(2025, 2, 1), "API"),            # API valid 1 Feb – 30 Apr
              (date(2025, 1, 5), "TENTATIVE"))      # entered after, dated before
    gaps = rights_gaps(f, date(2025, 5, 10), RULES)
    assert gaps == [(date(2025, 1, 11), date(2025, 1, 31)), (date(2025, 5, 1), date(2025, 5, 10))]
    assert days_without_rights(f, date(2025, 5, 10), RULES) == 21 + 10


def test_api_cut_short_by_api_expired_event():
    f = facts(date(2025, 1, 10), "OUVERT", (date(2025, 1, 11), "API"), (date(2025, 2, 1), "API-FIN"))
    assert api_periods(f, RULES) == [(date(2025, 1, 11), date(2025, 1, 31))]
    assert days_without_rights(f, date(2025, 2, 10), RULES) == 10


def test_titre_delivered_ends_the_rupture():
    f = facts(date(2025, 1, 10), "RESOLU", (date(2025, 1, 21), "TITRE-OK"))
    assert days_without_rights(f, date(2025, 6, 1), RULES) == 10


def test_titre_expired_event_stands_in_for_missing_expiry():
    f = facts(None, "OUVERT", (date(2025, 3, 1), "TITRE-EXP"))
    assert days_without_rights(f, date(2025, 3, 11), RULES) == 10


def test_implicit_rejection_four_months_then_two_months_to_challenge():
    result = implicit_rejection(facts(None, "OUVERT", (date(2024, 10, 31), "DEPOT")), RULES)
    assert result.rejection_on == date(2025, 2, 28)
    assert result.challenge_until == date(2025, 4, 28)


def test_no_implicit_rejection_without_filing_or_after_decision():
    assert implicit_rejection(facts(None, "OUVERT", (date(2025, 1, 1), "TENTATIVE")), RULES) is None
    decided = facts(None, "OUVERT", (date(2025, 1, 1), "DEPOT"), (date(2025, 3, 1), "TITRE-OK"))
    assert implicit_rejection(decided, RULES) is None


def test_renewal_window_is_configurable():
    assert renewal_window(date(2025, 6, 30), RULES) == (date(2025, 3, 2), date(2025, 5, 1))
    assert renewal_window(date(2025, 6, 30), Rules(renewal_start_days=90, renewal_end_days=30)) == (
        date(2025, 4, 1), date(2025, 5, 31))
    assert renewal_window(None, RULES) is None


def test_urgency_levels():
    today = date(2025, 6, 1)
    assert urgency(facts(date(2025, 5, 1)), today, RULES).level == 3          # rupture ongoing
    assert urgency(facts(date(2025, 6, 20)), today, RULES).level == 2         # expires in 19 days, no API
    assert urgency(facts(date(2025, 8, 15)), today, RULES).level == 1         # renewal window open
    assert urgency(facts(date(2026, 8, 15)), today, RULES).level == 0
    assert urgency(facts(date(2025, 5, 1), "CLOS"), today, RULES).level == 0  # closed cases never urgent


def test_urgency_api_expiring_and_rejection_deadline():
    today = date(2025, 6, 1)
    api_ending = facts(date(2025, 3, 1), "OUVERT", (date(2025, 3, 10), "API"))  # ends 9 June
    u = urgency(api_ending, today, RULES)
    assert u.level == 2 and any("API" in r for r in u.reasons)
    near = facts(None, "OUVERT", (date(2024, 12, 10), "DEPOT"))  # rejection 10 Apr, challenge until 10 Jun
    u = urgency(near, today, RULES)
    assert u.level == 3 and "recours" in " ".join(u.reasons)


# --- issue 11: sentences true today, history for closed cases, estimates apart ----------------------

from app.cases.deadlines import (Due, case_deadlines, date_sentences, rights_count)  # noqa: E402


def case_facts(*events, expiry=None, status="OUVERT", demarche="RENOUV", first_attempt=None):
    return CaseFacts(status=status, titre_expiry=expiry, demarche=demarche, first_attempt=first_attempt,
                     events=tuple(TimelineFact(d, t) for d, t in events))


def text(facts_, today):
    return " ".join(date_sentences(facts_, today, RULES))


def test_passed_challenge_window_is_history_not_an_instruction():
    # Deposit 4 Oct 2025 → rejection 4 Feb 2026 → challenge until 4 April 2026, read on 1 June 2026.
    f = case_facts((date(2025, 10, 4), "DEPOT"), demarche="PREMIERE")
    sentence = text(f, date(2026, 6, 1))
    assert "peut être contesté" not in sentence and "au plus tard" not in sentence
    assert "le délai de recours de 2 mois a pris fin le 4 avril 2026" in sentence
    assert case_deadlines(f, date(2026, 6, 1), RULES) == []  # nothing left to meet


@pytest.mark.parametrize("today, expected", [
    (date(2026, 1, 10), "sera rejetée implicitement le 4 février 2026 (dans 25 jours) ; ce rejet pourra être contesté "
                        "jusqu'au 4 avril 2026"),
    (date(2026, 2, 4), "rejetée implicitement aujourd'hui"),
    (date(2026, 3, 5), "au plus tard le 4 avril 2026, dans 30 jours"),
    (date(2026, 4, 4), "dernier jour aujourd'hui pour contester le rejet implicite né le 4 février 2026"),
])
def test_implicit_rejection_worded_for_where_it_stands(today, expected):
    f = case_facts((date(2025, 10, 4), "DEPOT"), demarche="PREMIERE")
    assert expected in text(f, today)


def test_implicit_rejection_deadlines_follow_the_calendar_months():
    f = case_facts((date(2025, 10, 31), "DEPOT"), demarche="PREMIERE")
    assert case_deadlines(f, date(2026, 1, 1), RULES) == [
        Due("REJET-IMPLICITE", date(2026, 2, 28), case_deadlines(f, date(2026, 1, 1), RULES)[0].action)]
    on_the_day = case_deadlines(f, date(2026, 2, 28), RULES)
    assert [(d.kind, d.date) for d in on_the_day] == [("RECOURS", date(2026, 4, 28))]


def test_a_decision_after_the_deposit_replaces_the_implicit_rejection():
    refused = case_facts((date(2025, 10, 4), "DEPOT"), (date(2025, 12, 1), "REFUS"), demarche="PREMIERE")
    assert "c'est cette décision, et non un rejet implicite, qu'il faut contester" in text(refused, date(2026, 3, 1))
    assert case_deadlines(refused, date(2026, 3, 1), RULES) == []
    granted = case_facts((date(2025, 10, 4), "DEPOT"), (date(2025, 12, 1), "TITRE-OK"), demarche="PREMIERE")
    assert "pas de rejet implicite" in text(granted, date(2026, 3, 1))


def test_renewal_window_long_over_is_not_worded_as_an_instruction():
    # Titre expired 15 Jan 2025 (window 17 Sep – 16 Nov 2024), nothing filed, read in 2026.
    f = case_facts(expiry=date(2025, 1, 15))
    sentence = text(f, date(2026, 6, 1))
    assert "doit être déposée" not in sentence and "pourra être déposée" not in sentence
    assert ("Aucune demande de renouvellement enregistrée pendant la période de dépôt (du 17 septembre 2024 au "
            "16 novembre 2024") in sentence
    assert [d.kind for d in case_deadlines(f, date(2026, 6, 1), RULES)] == []


@pytest.mark.parametrize("today, expected, kind_date", [
    (date(2024, 9, 1), "pourra être déposée sur l'ANEF du 17 septembre 2024 au 16 novembre 2024",
     date(2024, 11, 16)),
    (date(2024, 10, 1), "Période de dépôt ouverte", date(2024, 11, 16)),
    (date(2024, 11, 16), "Dernier jour aujourd'hui pour déposer", date(2024, 11, 16)),
    (date(2024, 12, 1), "déposer sans attendre, avant l'expiration du titre le 15 janvier 2025", date(2024, 11, 16)),
])
def test_renewal_window_coming_open_today_and_late(today, expected, kind_date):
    f = case_facts(expiry=date(2025, 1, 15))
    assert expected in text(f, today)
    renewal = [d for d in case_deadlines(f, today, RULES) if d.kind == "RENOUVELLEMENT"]
    assert [d.date for d in renewal] == [kind_date]
    if today > kind_date:
        assert "La période de dépôt est close" in renewal[0].action


def test_renewal_window_is_history_for_closed_cases_and_absent_for_first_requests():
    closed = case_facts((date(2024, 10, 2), "TENTATIVE"), expiry=date(2025, 1, 15), status="RESOLU")
    assert "Le renouvellement devait être demandé du 17 septembre 2024 au 16 novembre 2024" in text(
        closed, date(2024, 10, 5))
    assert "première démarche dans la période le 2 octobre 2024" in text(closed, date(2024, 10, 5))
    first = case_facts(expiry=date(2025, 1, 15), demarche="PREMIERE")
    assert "renouvellement" not in text(first, date(2024, 10, 1)).lower()
    assert all(d.kind != "RENOUVELLEMENT" for d in case_deadlines(first, date(2024, 10, 1), RULES))


def test_renewal_filed_in_time_late_or_only_before_the_window():
    late = case_facts((date(2024, 12, 1), "TENTATIVE"), expiry=date(2025, 1, 15))
    assert "après la période de dépôt" in text(late, date(2024, 12, 5))
    assert "pas d'API d'office" in text(late, date(2024, 12, 5))
    assert all(d.kind != "RENOUVELLEMENT" for d in case_deadlines(late, date(2024, 12, 5), RULES))
    in_time = case_facts(expiry=date(2025, 1, 15), first_attempt=date(2024, 10, 1))
    assert "Renouvellement demandé dans les délais : démarche du 1er octobre 2024" in text(in_time, date(2024, 12, 5))
    early = case_facts((date(2024, 8, 1), "TENTATIVE"), expiry=date(2025, 1, 15))
    assert "précèdent la période de dépôt" in text(early, date(2024, 9, 1))
    assert [d.kind for d in case_deadlines(early, date(2024, 9, 1), RULES)] == ["RENOUVELLEMENT", "TITRE"]


def test_resolved_case_stops_the_rupture_at_the_decision_or_the_last_event():
    granted = case_facts((date(2025, 3, 1), "TITRE-OK"), expiry=date(2025, 1, 10), status="RESOLU")
    sentence = text(granted, date(2026, 6, 1))
    assert "toujours" not in sentence and "aujourd'hui" not in sentence
    assert "49 jours sans droits (1 mois et 19 jours) entre l'expiration du titre le 10 janvier 2025 et la décision " \
           "favorable du 1er mars 2025" in sentence
    closed = case_facts((date(2025, 2, 9), "PREF"), expiry=date(2025, 1, 10), status="CLOS")
    count = rights_count(closed, date(2026, 6, 1), RULES)
    assert count.days == 30 and count.end_reason == "closed" and not count.ongoing
    assert "le dernier événement enregistré, le 9 février 2025 (dossier clos" in text(closed, date(2026, 6, 1))
    assert case_deadlines(closed, date(2026, 6, 1), RULES) == []
    assert days_without_rights(case_facts(expiry=date(2025, 1, 10), status="CLOS"), date(2026, 6, 1), RULES) is None


def test_ongoing_rupture_says_so_and_what_to_do():
    f = case_facts(expiry=date(2026, 1, 10))
    assert ("21 jours sans droits depuis l'expiration du titre le 10 janvier 2026, et la rupture de droits dure "
            "toujours aujourd'hui : obtenir sans attendre une API ou un récépissé") in text(f, date(2026, 1, 31))


def test_api_end_not_recorded_is_an_estimate_counted_apart():
    # Titre expired 31 Dec 2024; API 1 Mar 2025, end not recorded (assumed 31 May 2025); read 5 Jan 2026.
    f = case_facts((date(2025, 3, 1), "API"), expiry=date(2024, 12, 31))
    count = rights_count(f, date(2026, 1, 5), RULES)
    assert count.days == 59 + 219  # 1 Jan – 28 Feb, then 1 Jun 2025 – 5 Jan 2026
    assert count.estimated_days == 92  # 1 Mar – 31 May, covered only if the assumption holds
    sentence = text(f, date(2026, 1, 5))
    assert "278 jours sans droits" in sentence
    assert ("Estimation comptée à part : l'API délivrée le 1er mars 2025 n'a pas de fin enregistrée ; elle est "
            "supposée valable 3 mois, jusqu'au 31 mai 2025. Si elle a pris fin plus tôt, jusqu'à 92 jours sans droits "
            "de plus") in sentence
    recorded = case_facts((date(2025, 3, 1), "API"), (date(2025, 6, 1), "API-FIN"), expiry=date(2024, 12, 31))
    assert rights_count(recorded, date(2026, 1, 5), RULES).estimated_days == 0
    assert "Estimation" not in text(recorded, date(2026, 1, 5))


def test_titre_valid_and_unknown_expiry_sentences():
    assert "le titre est valide jusqu'au 1er mars 2026 (il expire dans 28 jours)" in text(
        case_facts(expiry=date(2026, 3, 1)), date(2026, 2, 1))
    assert "inconnus tant que la date d'expiration du titre n'est pas renseignée" in text(case_facts(), date(2026, 2, 1))


# --- the deadline model -------------------------------------------------------------------------------

def test_closed_cases_have_no_deadlines_even_from_the_routing():
    f = case_facts((date(2026, 1, 20), "AUDIENCE"), expiry=date(2026, 3, 1), status="RESOLU")
    assert case_deadlines(f, date(2026, 1, 1), RULES, routed=[("AUDIENCE", date(2026, 1, 20), "x")]) == []


def test_titre_expiry_is_due_unless_an_api_takes_over():
    today = date(2026, 2, 1)
    bare = case_facts(expiry=date(2026, 3, 1), demarche="PREMIERE")
    assert [(d.kind, d.date) for d in case_deadlines(bare, today, RULES)] == [("TITRE", date(2026, 3, 1))]
    covered = case_facts((date(2026, 1, 15), "API"), expiry=date(2026, 3, 1), demarche="PREMIERE")
    assert [(d.kind, d.date) for d in case_deadlines(covered, today, RULES)] == [("API", date(2026, 4, 14))]


def test_lapsed_api_stays_due_until_a_new_one_or_a_decision():
    lapsed = case_facts((date(2025, 6, 1), "API"), (date(2025, 8, 1), "API-FIN"), expiry=date(2025, 5, 1),
                        demarche="PREMIERE")
    dues = case_deadlines(lapsed, date(2026, 2, 1), RULES)
    assert [(d.kind, d.date) for d in dues] == [("API", date(2025, 7, 31))]
    assert "aucune nouvelle API n'est enregistrée" in dues[0].action
    renewed = case_facts((date(2025, 6, 1), "API"), (date(2025, 8, 1), "API-FIN"), (date(2026, 1, 20), "API"),
                         expiry=date(2025, 5, 1), demarche="PREMIERE")
    assert [(d.kind, d.date) for d in case_deadlines(renewed, date(2026, 2, 1), RULES)] == [("API", date(2026, 4, 19))]
    refused = case_facts((date(2025, 6, 1), "API"), (date(2025, 7, 1), "REFUS"), expiry=date(2025, 5, 1),
                         demarche="PREMIERE")
    assert case_deadlines(refused, date(2026, 2, 1), RULES) == []


def test_routing_dates_merged_theirs_win_passed_ones_dropped_oqtf_watched_a_month():
    today = date(2026, 2, 1)
    f = case_facts((date(2025, 10, 1), "DEPOT"), demarche="PREMIERE")  # rejection 1 Feb, challenge until 1 Apr
    routed = [("RECOURS", date(2026, 4, 1), "Libellé de la voie de droit."),
              ("RECOURS", date(2026, 1, 10), "Délai passé."),
              ("OQTF", date(2026, 1, 5), "OQTF notifiée : …"),
              ("AUDIENCE", date(2026, 2, 3), "Audience devant le juge des référés.")]
    dues = case_deadlines(f, today, RULES, routed=routed)
    assert [(d.kind, d.date) for d in dues] == [("OQTF", date(2026, 1, 5)), ("AUDIENCE", date(2026, 2, 3)),
                                                ("RECOURS", date(2026, 4, 1))]
    assert dues[2].action == "Libellé de la voie de droit."
    assert "confier le dossier à un·e avocat·e" in dues[0].action
    later = case_deadlines(f, date(2026, 2, 5), RULES, routed=[("OQTF", date(2026, 1, 5), "")])
    assert [d.kind for d in later] == ["RECOURS"]  # the OQTF a month old is no longer listed


def test_urgency_counts_an_oqtf_and_a_lapsed_api():
    today = date(2026, 2, 1)
    oqtf = case_facts((date(2026, 1, 20), "OQTF"), demarche="PREMIERE")
    assert urgency(oqtf, today, RULES).level == 3
    assert urgency(oqtf, date(2026, 3, 15), RULES).level == 0  # a month and more later: the route says the rest
    lapsed = case_facts((date(2025, 9, 1), "API"), demarche="PREMIERE")  # no titre expiry known
    u = urgency(lapsed, today, RULES)
    assert u.level == 2 and "aucune nouvelle API" in u.reasons[-1]
