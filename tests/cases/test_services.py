"""Case services without HTTP: creation, references, validation, events, urgency, audit."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditRecord
from app.cases import services
from app.cases.models import Case, Event, Person
from app.cases.services import CaseInput, CaseValidationError, EventInput
from app.core.clock import today
from app.search.models import IndexOutbox
from tests import factories


def valid_input(**overrides) -> CaseInput:
    data = CaseInput(prefecture="69", demarche="RENOUV", status="OUVERT", blocages=["API-ABS", "ACCOMP"])
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


def test_references_are_sequential_per_association_and_year(db, org, other_org, volunteer):
    first = services.create_case(org, valid_input(), volunteer, opened_on=date(2025, 3, 1))
    second = services.create_case(org, valid_input(), volunteer, opened_on=date(2025, 4, 1))
    other = services.create_case(other_org, valid_input(), None, opened_on=date(2025, 4, 1))
    next_year = services.create_case(org, valid_input(), volunteer, opened_on=date(2026, 1, 2))
    assert (first.reference, second.reference) == ("LYO-2025-0001", "LYO-2025-0002")
    assert other.reference == "PAR-2025-0001"
    assert next_year.reference == "LYO-2026-0001"


def test_case_without_identity_has_no_person(db, org, volunteer):
    case = services.create_case(org, valid_input(), volunteer)
    assert case.person is None
    assert db.session.scalar(select(func.count(Person.id))) == 0


def test_person_kept_apart_and_codes_ordered_primary_first(db, org, volunteer):
    case = services.create_case(org, valid_input(last_name="Nguyễn", numero_etranger="0123456789",
                                                 consequences=["CAF", "EMPLOI"]), volunteer)
    db.session.commit()
    assert case.person.last_name == "Nguyễn"
    assert case.person.org_id == org.id
    assert case.blocages == ["API-ABS", "ACCOMP"] and case.primary_blocage == "API-ABS"
    assert case.consequences == ["CAF", "EMPLOI"]


def test_prefecture_accepts_name_and_code(db, org, volunteer):
    assert services.create_case(org, valid_input(prefecture="Rhône"), volunteer).prefecture == "69"
    assert services.create_case(org, valid_input(prefecture="2a"), volunteer).prefecture == "2A"


@pytest.mark.parametrize("field, value, fragment", [
    ("numero_etranger", "12345", "10 chiffres"),
    ("numero_etranger", "12345678901", "10 chiffres"),
    ("numero_etranger", "12345abcde", "10 chiffres"),
    ("prefecture", "99", "Préfecture inconnue"),
    ("demarche", "INCONNUE", "Démarche inconnue"),
    ("status", "", "obligatoire"),
    ("blocages", [], "au moins un blocage"),
    ("blocages", ["XYZ"], "Blocage inconnu"),
    ("first_attempt", today() + timedelta(days=3), "futur"),
    ("birth_date", today() + timedelta(days=1), "futur"),
    ("last_name", "x" * 10_000, "limité à 200"),
    ("narrative", "y" * 32_001, "limité à 32000"),
    ("email", "pas une adresse", "invalide"),
])
def test_invalid_input_refused_in_french_and_nothing_saved(db, org, volunteer, field, value, fragment):
    with pytest.raises(CaseValidationError) as exc:
        services.create_case(org, valid_input(**{field: value}), volunteer)
    assert fragment in " ".join(exc.value.errors.values())
    db.session.rollback()
    assert db.session.scalar(select(func.count(Case.id))) == 0


def test_nine_digit_numero_etranger_accepted_and_text_kept_verbatim(db, org, volunteer):
    narrative = "<b>gras</b> 🙂 مرحبا \u202eRTL {{7*7}}"
    case = services.create_case(org, valid_input(numero_etranger="123456789", narrative=narrative), volunteer)
    assert case.person.numero_etranger == "123456789"
    assert case.narrative == narrative


def test_control_characters_stripped(db, org, volunteer):
    case = services.create_case(org, valid_input(narrative="a\x00b\x1fc\nd"), volunteer)
    assert case.narrative == "abc\nd"


def test_update_records_changed_field_names_not_values(db, org, volunteer):
    case = factories.case(org, volunteer)
    data = valid_input(last_name="Secretname", narrative="Nouveau récit")
    changed = services.update_case(case, data, volunteer, expected_version=case.version)
    db.session.commit()
    assert "person.last_name" in changed and "narrative" in changed
    record = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "case.update"))
    assert "person.last_name" in record.detail
    assert "Secretname" not in record.detail and "Nouveau" not in record.detail


def test_stale_version_is_refused(db, org, volunteer):
    case = factories.case(org, volunteer)
    stale = case.version
    services.update_case(case, valid_input(narrative="premier"), volunteer, expected_version=stale)
    db.session.commit()
    with pytest.raises(services.StaleCaseError):
        services.update_case(case, valid_input(narrative="second"), volunteer, expected_version=stale)


def test_events_append_validate_and_reorder(db, org, volunteer):
    case = factories.case(org, volunteer)
    services.add_event(case, EventInput(date(2025, 5, 2), "CCC", "ticket", "2025-CCC-884213"), volunteer)
    services.add_event(case, EventInput(date(2025, 1, 2), "TENTATIVE", "essai"), volunteer)
    db.session.commit()
    db.session.expire_all()
    assert [e.type for e in db.session.get(Case, case.id).events] == ["TENTATIVE", "CCC"]
    with pytest.raises(CaseValidationError, match="futur"):
        services.add_event(case, EventInput(today() + timedelta(days=5), "TENTATIVE"), volunteer)
    db.session.rollback()
    # A hearing may be scheduled in the future.
    services.add_event(case, EventInput(today() + timedelta(days=5), "AUDIENCE"), volunteer)
    db.session.commit()
    with pytest.raises(CaseValidationError, match="inconnu"):
        services.add_event(case, EventInput(date(2025, 1, 2), "NOPE"), volunteer)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Event.id))) == 3


def test_urgency_stored_and_refreshed_without_bumping_version(db, org, volunteer):
    case = factories.case(org, volunteer, titre_expiry=today() - timedelta(days=10))
    assert case.urgency == 3
    version = case.version
    db.session.execute(Case.__table__.update().values(urgency=0, urgency_on=date(2000, 1, 1)))
    db.session.commit()
    assert services.refresh_stale_urgencies(org.id) == 1
    db.session.commit()
    db.session.expire_all()
    refreshed = db.session.get(Case, case.id)
    assert refreshed.urgency == 3 and refreshed.version == version


def test_changes_enqueue_the_search_index_in_the_same_transaction(db, org, volunteer):
    case = services.create_case(org, valid_input(), volunteer)
    services.add_event(case, EventInput(date(2025, 1, 2), "TENTATIVE"), volunteer)
    db.session.flush()
    # Before commit, the outbox rows exist in the transaction (and vanish with a rollback).
    assert db.session.scalar(select(func.count(IndexOutbox.id)).where(IndexOutbox.case_id == case.id)) == 2
    db.session.rollback()
    assert db.session.scalar(select(func.count(IndexOutbox.id))) == 0


def test_compute_dates_sentences(app, db, org, volunteer):
    case = factories.case(org, volunteer, titre_expiry=date(2025, 1, 15))
    factories.event(case, "DEPOT", date(2025, 1, 10))
    dates = services.compute_dates(case, today=date(2025, 3, 1))
    assert dates.days_without_rights == 45
    text = " ".join(dates.sentences)
    assert "45 jours sans droits" in text
    assert "10 mai 2025" in text and "10 juillet 2025" in text   # rejection, end of challenge window
    assert "17 septembre 2024" in text                           # renewal window start


def test_list_orders_urgent_first_and_filters(db, org, other_org, volunteer):
    calm = factories.case(org, volunteer, titre_expiry=today() + timedelta(days=400), blocages=["RDV"])
    urgent = factories.case(org, volunteer, titre_expiry=today() - timedelta(days=3), prefecture="38")
    factories.case(other_org, None)
    cases, total = services.list_cases(org.id, services.CaseFilters(), 1, 50)
    assert total == 2 and [c.id for c in cases] == [urgent.id, calm.id]
    cases, total = services.list_cases(org.id, services.CaseFilters(code="RDV"), 1, 50)
    assert [c.id for c in cases] == [calm.id]
    cases, total = services.list_cases(org.id, services.CaseFilters(prefecture="38"), 1, 50)
    assert [c.id for c in cases] == [urgent.id]


def test_audit_chain_verifies_and_detects_edits(db, org, volunteer):
    from app.audit.services import verify_chain

    factories.case(org, volunteer)
    assert verify_chain() == []
    db.session.execute(AuditRecord.__table__.update().where(AuditRecord.seq == 2).values(action="tampered"))
    db.session.commit()
    assert any(p.seq == 2 for p in verify_chain())
