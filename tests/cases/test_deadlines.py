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
