"""« Échéances » (/deadlines), the deadline column of the case list, the case page's dates and
the digest setting of « Mon compte »."""

from __future__ import annotations

import html as html_lib
from datetime import timedelta

from sqlalchemy import select

from app.cases import services as cases
from app.cases.models import Case
from app.cases.services import EventInput
from app.deadlines.models import CaseDeadline
from app.extensions import db
from tests import factories
from tests.conftest import csrf_token, login
from tests.deadlines.helpers import challenge_end, silent_deposit_case, today


def page_of(client, path="/deadlines", **params) -> str:
    response = client.get(path, query_string=params)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_association_sees_its_deadlines_and_no_other(app, org, other_org, volunteer):
    silent = silent_deposit_case(org, volunteer)
    foreign = silent_deposit_case(other_org, None)
    client = app.test_client()
    login(client, volunteer)
    html = page_of(client)
    assert silent.reference in html and challenge_end().strftime("%d/%m/%Y") in html
    assert "Fin du délai de recours" in html and f'href="/cases/{silent.id}"' in html
    assert foreign.reference not in html
    stranger = app.test_client()
    login(stranger, factories.user(other_org, "admin"))
    html = page_of(stranger)
    assert foreign.reference in html and silent.reference not in html


def test_filters_mine_nobody_kind_and_horizon(app, org, volunteer):
    lawyer = factories.user(org, "lawyer")
    mine = factories.case(org, volunteer, demarche="PREMIERE", titre_expiry=today() + timedelta(days=5),
                          volunteer_id=volunteer.id)
    theirs = factories.case(org, lawyer, demarche="PREMIERE", titre_expiry=today() + timedelta(days=20),
                            volunteer_id=None, lawyer_id=lawyer.id)
    nobody = silent_deposit_case(org, None)
    client = app.test_client()
    login(client, volunteer)
    everything = page_of(client)
    assert all(c.reference in everything for c in (mine, theirs, nobody))
    only_mine = page_of(client, suivi="moi")
    assert mine.reference in only_mine and theirs.reference not in only_mine and nobody.reference not in only_mine
    unassigned = page_of(client, suivi="aucun")
    assert nobody.reference in unassigned and mine.reference not in unassigned
    by_member = page_of(client, suivi=str(lawyer.id))
    assert theirs.reference in by_member and mine.reference not in by_member
    week = page_of(client, days="7")
    assert mine.reference in week and theirs.reference not in week and nobody.reference not in week
    recourse = page_of(client, kind="RECOURS")
    assert nobody.reference in recourse and mine.reference not in recourse
    # Unknown values fall back to the defaults instead of failing.
    assert mine.reference in page_of(client, days="abc", kind="<script>", suivi="999999")
    # The counts by kind link to the filtered page.
    assert 'href="/deadlines?kind=TITRE&amp;days=90"' in everything


def test_overdue_first_and_marked(app, org, volunteer):
    lapsed = factories.case(org, volunteer, demarche="PREMIERE", volunteer_id=volunteer.id,
                            titre_expiry=today() - timedelta(days=200))
    factories.event(lapsed, "API", today() - timedelta(days=120))
    coming = factories.case(org, volunteer, demarche="PREMIERE", titre_expiry=today() + timedelta(days=3),
                            volunteer_id=volunteer.id)
    client = app.test_client()
    login(client, volunteer)
    html = page_of(client)
    assert html.index(lapsed.reference) < html.index(coming.reference)
    assert "en retard de" in html and "dans 3 j" in html


def test_coordinators_see_references_never_identities(app, org, volunteer):
    silent_deposit_case(org, volunteer)
    client = app.test_client()
    login(client, factories.user(org, "coordinator"))
    html = page_of(client)
    assert "Fin du délai de recours" in html
    assert "Traoré" not in html and "TRAORÉ" not in html and "1234567890" not in html


def test_anonymous_visitors_go_to_login(client):
    response = client.get("/deadlines")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_case_list_shows_and_sorts_by_the_next_deadline(app, org, volunteer):
    later = factories.case(org, volunteer, demarche="PREMIERE", titre_expiry=today() + timedelta(days=40))
    sooner = factories.case(org, volunteer, demarche="PREMIERE", titre_expiry=today() + timedelta(days=10))
    none = factories.case(org, volunteer, demarche="PREMIERE")
    client = app.test_client()
    login(client, volunteer)
    html = page_of(client, "/cases/", sort="echeance")
    assert html.index(sooner.reference) < html.index(later.reference) < html.index(none.reference)
    assert "Prochaine échéance" in html and "Expiration du titre" in html
    assert (today() + timedelta(days=10)).strftime("%d/%m/%Y") in html


def test_next_deadline_follows_the_timeline_without_bumping_the_version(app, org, volunteer):
    case = factories.case(org, volunteer, demarche="PREMIERE")
    assert case.next_deadline is None
    version = case.version
    cases.add_event(case, EventInput(today() + timedelta(days=9), "AUDIENCE"), volunteer)
    db.session.commit()
    db.session.expire_all()
    case = db.session.get(Case, case.id)
    assert (case.next_deadline, case.next_deadline_kind, case.deadlines_on) == (
        today() + timedelta(days=9), "AUDIENCE", today())
    assert case.version == version
    assert db.session.scalars(select(CaseDeadline.kind).where(CaseDeadline.case_id == case.id)).all() == ["AUDIENCE"]


def test_stale_deadlines_are_recomputed_for_a_new_day(app, org, volunteer):
    case = silent_deposit_case(org, volunteer)
    db.session.execute(Case.__table__.update().values(deadlines_on=today() - timedelta(days=1),
                                                      next_deadline=None))
    db.session.execute(CaseDeadline.__table__.delete())
    db.session.commit()
    assert cases.refresh_stale_urgencies(org.id) == 1
    db.session.commit()
    assert db.session.get(Case, case.id).next_deadline == challenge_end()


def test_case_page_lists_its_deadlines_and_true_sentences(app, org, volunteer):
    case = silent_deposit_case(org, volunteer)
    client = app.test_client()
    login(client, volunteer)
    html = page_of(client, f"/cases/{case.id}")
    assert "Échéances du dossier" in html and "Fin du délai de recours" in html
    assert "rejetée implicitement" in html


def test_digest_setting_in_my_account(app, org, volunteer):
    client = app.test_client()
    login(client, volunteer)
    html = page_of(client, "/account/")
    assert "Chaque semaine" in html and '<input checked id="digest-0" name="digest" required type="radio" ' \
        'value="daily">' in html
    token = csrf_token(client, "/account/")
    response = client.post("/account/digest", data={"digest": "weekly", "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(volunteer), volunteer.id).digest == "weekly"
    bad = client.post("/account/digest", data={"digest": "hourly", "csrf_token": token})
    assert bad.status_code == 422
    assert db.session.get(type(volunteer), volunteer.id).digest == "weekly"


def test_contradictory_dates_give_pages_not_errors(app, org, volunteer):
    case = factories.case(org, volunteer, demarche="RENOUV", titre_expiry=today() - timedelta(days=30),
                          volunteer_id=volunteer.id)
    for type_, days_ago in (("ORDONNANCE", 40), ("REFERE", 20), ("API-FIN", 50), ("API", 10), ("TITRE-OK", 60),
                            ("DEPOT", 5), ("REFUS", 70)):
        factories.event(case, type_, today() - timedelta(days=days_ago), actor=volunteer,
                        outcome="INJONCTION" if type_ == "ORDONNANCE" else "")
    client = app.test_client()
    login(client, volunteer)
    assert client.get(f"/cases/{case.id}").status_code == 200
    assert client.get("/deadlines").status_code == 200
    result = app.test_cli_runner().invoke(args=["deadlines", "list", "--org", org.slug, "--json"])
    assert result.exit_code == 0, result.output


def test_counts_macro_for_the_dashboard_links_to_the_filtered_page(app, org, volunteer):
    from flask import render_template_string

    from app.deadlines.services import counts_by_kind

    silent_deposit_case(org, volunteer)
    with app.test_request_context():
        html = render_template_string('{% from "deadlines/_counts.html" import deadline_counts %}'
                                      '{{ deadline_counts(counts, 90) }}', counts=counts_by_kind(org.id, today()))
    assert 'href="/deadlines?kind=RECOURS&amp;days=90"' in html and "Fin du délai de recours" in html
    assert "1 à venir" in html


def _make_stale(org):
    """As at the first page of a new day: nothing computed for today yet."""
    db.session.execute(Case.__table__.update().where(Case.org_id == org.id)
                       .values(urgency_on=None, deadlines_on=None))
    db.session.commit()


def test_a_large_morning_refresh_does_not_hold_the_page_and_the_worker_finishes_it(
        app, org, other_org, volunteer, monkeypatch):
    """Past PAGE_REFRESH_SECONDS the page shows what is stored and says how many cases wait; the
    background worker brings them to today one batch at a time, other associations too."""
    silent = silent_deposit_case(org, volunteer)
    for _ in range(4):
        factories.case(org, volunteer)
    foreign = silent_deposit_case(other_org, None)
    _make_stale(org)
    _make_stale(other_org)
    db.session.execute(CaseDeadline.__table__.delete())  # as after an import: no deadline rows yet
    db.session.commit()
    monkeypatch.setattr(cases, "REFRESH_BATCH", 2)
    monkeypatch.setitem(app.config, "PAGE_REFRESH_SECONDS", 0)  # one batch per page, then the page is served
    client = app.test_client()
    login(client, volunteer)
    html = page_of(client, "/cases/")
    assert "Recalcul du jour en cours : 3 dossiers" in html  # 5 cases, a batch of 2 done
    assert cases.stale_count(org.id) == 3
    html = " ".join(html_lib.unescape(page_of(client, "/deadlines")).split())
    assert "Recalcul du jour en cours : 1 dossier n'a pas encore son urgence" in html
    # The worker: one batch per tick, until nothing is left in any association.
    ticks = 0
    while cases.refresh_tick(app):
        ticks += 1
        assert ticks < 10
    assert cases.stale_count(org.id) == 0 and cases.stale_count(other_org.id) == 0
    assert ticks == 2  # the last case of org, then the one of other_org
    html = page_of(client, "/deadlines")
    assert "Recalcul du jour" not in html and silent.reference in html and foreign.reference not in html
    assert db.session.scalar(select(CaseDeadline.case_id).where(CaseDeadline.case_id == foreign.id)) == foreign.id


def test_a_small_association_is_refreshed_within_the_page(app, org, volunteer):
    silent = silent_deposit_case(org, volunteer)
    _make_stale(org)
    db.session.execute(CaseDeadline.__table__.delete())
    db.session.commit()
    client = app.test_client()
    login(client, volunteer)
    html = page_of(client)
    assert "Recalcul du jour" not in html and silent.reference in html
    assert cases.stale_count(org.id) == 0
