"""Property-based tests (hypothesis): case validation, the case form and the importer never
fail in an unexpected way, whatever they are given; a refused import writes nothing."""

import csv
import io
from dataclasses import fields
from datetime import date

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.cases import services
from app.cases.importer import ImportRefused, import_file
from app.cases.models import Case, Event, Person
from app.cases.services import CaseInput, validate_input
from app.cases.taxonomy import Taxonomy
from app.core.spreadsheet import CASE_COLUMNS
from app.extensions import db
from tests.conftest import csrf_token

TODAY = date(2025, 6, 1)
FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
STRING_FIELDS = [f.name for f in fields(CaseInput) if f.type == "str"]
DATE_FIELDS = ["titre_expiry", "first_attempt", "birth_date", "consent_date"]

# Text as people paste it: any unicode (control characters, RTL marks, emoji), markup, formulas.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["<script>alert(1)</script>", "=HYPERLINK(\"http://x\")", "+33 6 12", "@SUM(A1)",
                     "'; DROP TABLE cases; --", "\u202eevil", "a\x00b", "\r\n", "%s%n", "{{7*7}}", "é" * 201]),
)
maybe_date = st.one_of(st.none(), st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))


def codes(kind):
    return st.lists(st.one_of(st.sampled_from(["API-ABS", "RDV", "ACCOMP", "CAF", "EMPLOI", "OUVERT"]),
                              st.text(max_size=12)), max_size=4)


case_inputs = st.builds(
    CaseInput,
    prefecture=st.one_of(st.sampled_from(["69", "2A", "974", "Rhône", "75", "00", ""]), st.text(max_size=20)),
    demarche=st.one_of(st.sampled_from(["RENOUV", "PREMIERE", ""]), st.text(max_size=20)),
    status=st.one_of(st.sampled_from(["OUVERT", "CLOS", ""]), st.text(max_size=20)),
    blocages=codes("blocage"), consequences=codes("consequence"),
    titre_expiry=maybe_date, first_attempt=maybe_date, birth_date=maybe_date, consent_date=maybe_date,
    numero_etranger=st.one_of(st.from_regex(r"\A\d{9,11}\Z"), hostile_text),
    email=st.one_of(st.emails(), hostile_text),
    **{name: hostile_text for name in ("last_name", "first_name", "nationality", "phone", "address", "language",
                                       "titre_demande", "titre_actuel", "anef_number", "narrative",
                                       "consent_collected_by", "reference")},
)


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURES)
@given(data=case_inputs)
def test_validate_input_never_raises_and_names_real_fields(app, data):
    errors = validate_input(data, Taxonomy(None), TODAY)
    assert isinstance(errors, dict)
    names = {f.name for f in fields(CaseInput)}
    assert all(k in names and isinstance(v, str) and v for k, v in errors.items())
    for name in STRING_FIELDS:
        value = getattr(data, name)
        limit = services.TEXT_LIMITS.get(name, 1000 if name == "address" else services.SHORT_LIMIT)
        if len(value) > limit:
            assert name in errors
    for name in ("birth_date", "first_attempt", "consent_date"):
        value = getattr(data, name)
        if value is not None and value > TODAY:
            assert name in errors


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURES)
@given(text=st.text(max_size=200))
def test_any_text_within_limits_is_accepted_in_free_fields(app, text):
    data = CaseInput(prefecture="69", demarche="RENOUV", status="OUVERT", blocages=["API-ABS"],
                     narrative=text, last_name=text[:200], address=text, titre_actuel=text)
    assert validate_input(data, Taxonomy(None), TODAY) == {}


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(fields_=st.fixed_dictionaries({
    "last_name": hostile_text, "first_name": hostile_text, "narrative": hostile_text, "phone": hostile_text,
    "email": hostile_text, "numero_etranger": hostile_text, "address": hostile_text,
    "birth_date": st.one_of(st.just(""), st.text(max_size=12), st.dates().map(str)),
    "prefecture": st.one_of(st.just("69"), st.text(max_size=5)),
    "primary_blocage": st.one_of(st.just("API-ABS"), st.text(max_size=8)),
    "other_blocages": st.lists(st.text(max_size=8), max_size=2),
    "org_id": st.integers(), "reference": hostile_text,
}))
def test_case_form_answers_302_or_422_never_500(app, logged_in, volunteer, fields_):
    """Whatever is posted, the form either creates the case in the user's association or
    explains; a posted org_id or reference is ignored."""
    before = db.session.scalar(select(func.count(Case.id)))
    data = {"demarche": "RENOUV", "status": "OUVERT", **fields_,
            "csrf_token": csrf_token(logged_in, "/cases/new")}
    response = logged_in.post("/cases/new", data=data)
    assert response.status_code in (302, 422), response.status_code
    event(str(response.status_code))
    after = db.session.scalar(select(func.count(Case.id)))
    if response.status_code == 302:
        assert after == before + 1
        case = db.session.scalar(select(Case).order_by(Case.id.desc()))
        assert case.org_id == volunteer.org_id and case.reference.startswith("LYO-")
    else:
        assert after == before


def csv_bytes(rows: list[list[str]], header=CASE_COLUMNS, delimiter=",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


cell = st.one_of(st.just(""), hostile_text, st.sampled_from(
    ["69", "Rhône", "RENOUV", "OUVERT", "API-ABS", "API-ABS;RDV", "CAF", "01/02/2024", "2024-02-01", "31/02/2024",
     "1234567890", "LYO-2025-0001", "=1+1", "-2"]))
valid_row = st.fixed_dictionaries({"Préfecture": st.sampled_from(["69", "75", "Rhône", "2A"]),
                                   "Démarche": st.just("RENOUV"), "Blocage": st.sampled_from(["API-ABS", "RDV"]),
                                   "Statut": st.just("OUVERT"),
                                   "Récit": st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
                                                    max_size=80).filter(lambda t: not t.startswith(("=", "+", "-", "@")))})


mutated_row = st.builds(
    lambda row, changes: [changes.get(c, row.get(c, "")) for c in CASE_COLUMNS],
    valid_row, st.dictionaries(st.sampled_from(CASE_COLUMNS), cell, max_size=2))


def counts():
    return tuple(db.session.scalar(select(func.count(m.id))) for m in (Case, Person, Event))


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(rows=st.lists(st.one_of(st.lists(cell, min_size=0, max_size=len(CASE_COLUMNS) + 2), mutated_row),
                     min_size=0, max_size=6),
       delimiter=st.sampled_from([",", ";", "\t"]))
def test_importer_refuses_cleanly_or_imports_everything(app, org, tmp_path, rows, delimiter):
    path = tmp_path / "import.csv"
    path.write_bytes(csv_bytes(rows, delimiter=delimiter))
    before = counts()
    try:
        report = import_file(path, org, None, today=TODAY)
    except ImportRefused as exc:
        assert exc.report.problems
        event("refused")
        db.session.rollback()
        assert counts() == before  # all or nothing: nothing
    else:
        event(f"imported {report.cases}")
        db.session.commit()
        assert counts()[0] == before[0] + report.cases
        assert report.cases == len([r for r in rows if any(c.strip() for c in r)])


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(good=st.lists(valid_row, min_size=1, max_size=5), bad_position=st.integers(min_value=0, max_value=5),
       bad=st.fixed_dictionaries({"Préfecture": st.sampled_from(["", "00", "Atlantide"]),
                                  "Blocage": st.sampled_from(["", "INCONNU"])}))
def test_one_bad_row_imports_nothing(app, org, tmp_path, good, bad_position, bad):
    rows = [[row.get(c, "") for c in CASE_COLUMNS] for row in good]
    broken = dict(good[0], **bad)
    rows.insert(min(bad_position, len(rows)), [broken.get(c, "") for c in CASE_COLUMNS])
    path = tmp_path / "import.csv"
    path.write_bytes(csv_bytes(rows))
    before = counts()
    try:
        import_file(path, org, None, today=TODAY)
    except ImportRefused as exc:
        assert any(p.row == min(bad_position, len(rows) - 1) + 2 for p in exc.report.problems)
        db.session.rollback()
        assert counts() == before
    else:
        raise AssertionError("a file with a bad row was imported")
    # The good rows alone go in.
    path.write_bytes(csv_bytes([[row.get(c, "") for c in CASE_COLUMNS] for row in good]))
    assert import_file(path, org, None, today=TODAY).cases == len(good)
    db.session.rollback()


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURES)
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".xlsx", ".txt"]))
def test_importer_on_arbitrary_bytes_only_refuses(app, org, tmp_path, content, suffix):
    path = tmp_path / f"import{suffix}"
    path.write_bytes(content)
    before = counts()
    try:
        import_file(path, org, None, today=TODAY)
    except ImportRefused:
        pass
    db.session.rollback()
    assert counts() == before
