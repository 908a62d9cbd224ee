"""Helpers for the deadline tests: cases dated relative to today, the SMTP settings of a test server."""

from __future__ import annotations

from app.cases.deadlines import add_months
from app.core.clock import today as clock_today
from tests import factories


def use_smtp(app, port: int) -> None:
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False, SMTP_USER="",
                      SMTP_PASSWORD="", SMTP_FROM="Constat <no-reply@constat.test>",
                      BASE_URL="https://constat.test")


def today():
    return clock_today()


def months_ago(n: int):
    return add_months(today(), -n)


def silent_deposit_case(org, follower=None, **fields):
    """A complete deposit four calendar months ago and no answer: the implicit rejection is born
    (today or a few days ago) and the window to challenge it ends two months after it."""
    fields.setdefault("volunteer_id", follower.id if follower else None)
    identity = {"first_name": "Awa", "last_name": "Traoré", "numero_etranger": "1234567890"}
    case = factories.case(org, follower, demarche="PREMIERE", **{**identity, **fields})
    factories.event(case, "DEPOT", months_ago(4), actor=follower)
    return case


def challenge_end():
    """End of the window to challenge the implicit rejection of `silent_deposit_case`."""
    return add_months(add_months(months_ago(4), 4), 2)
