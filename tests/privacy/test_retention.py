"""Retention: anonymise cases past their association's period, with a frozen clock; the dry
run lists exactly what the real run then anonymises; legal holds are spared."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.audit.models import AuditRecord
from app.audit.services import verify_chain
from app.cases.models import Case, Event
from app.core.clock import utcnow
from app.evidence.models import Exhibit
from app.evidence.storage import store
from app.privacy import services
from tests.privacy.helpers import exhibit, png_bytes
from tests.privacy.test_services import assert_no_personal_values, full_case

NOW = datetime(2030, 6, 15, 12, 0)


def age(case, *, updated: datetime, event: datetime | None = None):
    """Move a case's activity into the past (the ORM would stamp 'now')."""
    from app.extensions import db

    db.session.execute(update(Case).where(Case.id == case.id).values(updated_at=updated))
    db.session.execute(update(Event).where(Event.case_id == case.id).values(created_at=event or updated))
    db.session.commit()


def scenario(db, org, now):
    """Six cases around the cutoff (730 days before `now`)."""
    old = now - timedelta(days=800)
    cases = {name: full_case(org) for name in ("old", "old_recent_event", "old_recent_exhibit", "held",
                                               "recent", "just_inside")}
    for case in cases.values():
        age(case, updated=old)
    age(cases["old_recent_event"], updated=old, event=now - timedelta(days=10))
    exhibit(cases["old_recent_exhibit"], png_bytes(1), added_at=now - timedelta(days=100))
    cases["held"].legal_hold = True
    db.session.commit()
    age(cases["held"], updated=old)
    age(cases["recent"], updated=now - timedelta(days=5))
    age(cases["just_inside"], updated=now - timedelta(days=729))
    old_file = exhibit(cases["old"], png_bytes(2), added_at=old)
    return cases, old_file


def test_plan_lists_only_cases_past_the_period_and_spares_legal_holds(db, org):
    cases, _ = scenario(db, org, NOW)
    plan = services.plan_retention(org, now=NOW)
    assert [p.reference for p in plan.due] == [cases["old"].reference]
    assert [p.reference for p in plan.held] == [cases["held"].reference]
    item = plan.due[0]
    assert item.last_activity.date() == (NOW - timedelta(days=800)).date()
    assert item.describe() == ("identité effacée, récit remplacé, 1 description(s) d'événement remplacée(s), "
                               "1 pièce(s) retirée(s) et fichier(s) supprimé(s)")


def test_apply_anonymises_exactly_the_plan(db, org):
    cases, old_file = scenario(db, org, NOW)
    plan = services.plan_retention(org, now=NOW)
    result = services.apply_retention(plan)
    db.session.commit()
    services.purge_files(result.files_to_purge)
    anonymised = set(db.session.scalars(select(Case.reference).where(Case.anonymised_at.is_not(None))))
    assert anonymised == {p.reference for p in plan.due} == {cases["old"].reference}
    old = db.session.get(Case, cases["old"].id)
    assert old.anonymised_at == NOW and old.person.last_name == "" and old.narrative == "[effacé]"
    assert db.session.get(Exhibit, old_file.id).withdrawn_reason == "durée de conservation échue"
    assert not store().exists(old_file.sha256)
    assert db.session.get(Case, cases["held"].id).person.last_name == "Diallo"
    records = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "case.anonymise")).all()
    assert [r.object_id for r in records] == [str(cases["old"].id)] and records[0].actor_id is None
    assert_no_personal_values(db)
    assert verify_chain() == []
    # A second run finds nothing left to do.
    assert services.plan_retention(org, now=NOW).due == []


def test_period_is_per_association(db, org, other_org):
    short = full_case(other_org)
    age(short, updated=NOW - timedelta(days=200))
    mine = full_case(org)
    age(mine, updated=NOW - timedelta(days=200))
    other_org.retention_days = 180
    db.session.commit()
    assert [p.reference for p in services.plan_retention(other_org, now=NOW).due] == [short.reference]
    assert services.plan_retention(org, now=NOW).due == []


def test_the_clock_moves_cases_into_the_plan(db, org):
    case = full_case(org)
    age(case, updated=NOW)
    assert services.plan_retention(org, now=NOW + timedelta(days=730)).due == []
    assert [p.case_id for p in services.plan_retention(org, now=NOW + timedelta(days=731)).due] == [case.id]


def test_cli_dry_run_lists_what_apply_then_anonymises(app, db, org, other_org):
    # The command uses the real clock: activity is placed relative to it.
    now = utcnow()
    cases, _ = scenario(db, org, now)
    foreign = full_case(other_org)
    age(foreign, updated=now - timedelta(days=1000))
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["retention", "apply", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    listed = set(re.findall(r"^  (\S+)  dernière activité .* serait anonymisé", dry.output, re.M))
    assert listed == {cases["old"].reference, foreign.reference}
    assert f"{cases['held'].reference}  dernière activité" in dry.output and "épargné" in dry.output
    assert "Simulation : rien n'a été modifié." in dry.output
    assert db.session.scalars(select(Case).where(Case.anonymised_at.is_not(None))).all() == []

    applied = runner.invoke(args=["retention", "apply"])
    assert applied.exit_code == 0, applied.output
    db.session.expire_all()
    anonymised = set(db.session.scalars(select(Case.reference).where(Case.anonymised_at.is_not(None))))
    assert anonymised == listed
    assert "2 dossier(s) anonymisé(s)." in applied.output
    again = runner.invoke(args=["retention", "apply", "--dry-run"])
    assert "serait anonymisé" not in again.output


def test_cli_one_association_and_unknown_slug(app, db, org, other_org):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["retention", "apply", "--dry-run", "--org", other_org.slug])
    assert result.exit_code == 0 and org.slug not in result.output
    missing = runner.invoke(args=["retention", "apply", "--org", "inconnue"])
    assert missing.exit_code != 0 and "introuvable" in missing.output


def test_a_recent_exhibit_or_event_keeps_the_case(db, org):
    cases, _ = scenario(db, org, NOW)
    due = {p.case_id for p in services.plan_retention(org, now=NOW).due}
    assert cases["old_recent_event"].id not in due and cases["old_recent_exhibit"].id not in due
    # …until they too are old enough.
    later = {p.case_id for p in services.plan_retention(org, now=NOW + timedelta(days=725)).due}
    assert {cases["old_recent_event"].id, cases["old_recent_exhibit"].id} <= later
