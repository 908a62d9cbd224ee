"""`flask deadlines list` on held-out cases dated relative to today (issue 11, « Done when »)."""

from __future__ import annotations

import json

from app.cases import services
from app.extensions import db
from tests import factories
from tests.deadlines.helpers import challenge_end, silent_deposit_case, today


def test_list_json_gives_the_challenge_window_and_nothing_for_a_resolved_case(app, org, other_org, volunteer):
    silent = silent_deposit_case(org, volunteer)
    resolved = silent_deposit_case(org, volunteer)
    services.update_case(resolved, services.CaseInput(prefecture="69", demarche="PREMIERE", status="RESOLU",
                                                      blocages=["API-ABS"], volunteer_id=volunteer.id), volunteer)
    db.session.commit()
    silent_deposit_case(other_org, None)
    result = app.test_cli_runner().invoke(args=["deadlines", "list", "--org", org.slug, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {"reference": silent.reference, "date": challenge_end().isoformat(), "kind": "RECOURS",
            "kind_label": "Fin du délai de recours", "overdue": False, "case_id": silent.id} == {
        k: v for k, v in rows[0].items() if k != "action"}
    assert "rejet implicite" in rows[0]["action"]
    assert [r["reference"] for r in rows] == [silent.reference]  # not the resolved one, not the other association's
    assert "Traoré" not in result.output and "1234567890" not in result.output


def test_list_text_and_horizon(app, org, volunteer):
    from datetime import timedelta

    case = factories.case(org, volunteer, demarche="PREMIERE", titre_expiry=today() + timedelta(days=20))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["deadlines", "list", "--org", org.slug])
    assert result.exit_code == 0 and case.reference in result.output and "Expiration du titre" in result.output
    assert "J-20" in result.output
    short = runner.invoke(args=["deadlines", "list", "--org", org.slug, "--days", "7"])
    assert short.exit_code == 0 and "Aucune échéance" in short.output
    unknown = runner.invoke(args=["deadlines", "list", "--org", "nulle-part"])
    assert unknown.exit_code != 0 and "introuvable" in unknown.output


def test_refresh_recomputes_after_a_change_of_the_configured_delays(app, org, volunteer):
    from app.cases.deadlines import add_months
    from app.cases.models import Case
    from tests.deadlines.helpers import months_ago

    case = silent_deposit_case(org, volunteer)
    assert db.session.get(Case, case.id).next_deadline == challenge_end()
    app.config["CHALLENGE_WINDOW_MONTHS"] = 3
    result = app.test_cli_runner().invoke(args=["deadlines", "refresh"])
    assert result.exit_code == 0 and "1 dossier(s) recalculé(s)" in result.output
    db.session.expire_all()
    assert db.session.get(Case, case.id).next_deadline == add_months(add_months(months_ago(4), 4), 3)
