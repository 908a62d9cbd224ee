"""The journal page: admins filter their association's records; coordinators see exports only."""

from datetime import datetime

import pytest

from app.audit import services as audit
from app.audit.models import AuditRecord
from app.extensions import db
from tests import factories
from tests.conftest import csrf_token, login


@pytest.fixture
def records(org, other_org, volunteer):
    """Records of both associations, an export among them, on known dates."""
    lawyer = factories.user(org, "lawyer")
    case = factories.case(org, volunteer, last_name="Zanzibar-Personnel")
    audit.record("export.xlsx", actor=lawyer, rows=3, identified=False)
    audit.record("export.brief", actor=lawyer, obj=case)
    audit.record("case.view", actor=factories.user(other_org, "volunteer"), object_type="case", object_id=4242)
    db.session.commit()
    db.session.query(AuditRecord).filter(AuditRecord.action == "export.brief").update(
        {"at": datetime(2025, 1, 15, 10, 0)})  # only the date filter reads this; verify is not run here
    db.session.commit()
    return {"lawyer": lawyer, "case": case}


def rows_of(page: str) -> list[str]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return [row for row in body.split("<tr>")[1:] if "Aucun enregistrement" not in row]


def test_admin_sees_own_association_only_and_no_personal_values(client, org, records):
    login(client, factories.user(org, "admin"))
    page = client.get("/audit/").get_data(as_text=True)
    assert "case.create" in page and "export.xlsx" in page and "rows = 3" in page
    assert "4242" not in page  # the other association's record
    assert "Zanzibar-Personnel" not in page  # a person's name never reaches the journal


def test_admin_filters(client, org, volunteer, records):
    login(client, factories.user(org, "admin"))
    only_exports = rows_of(client.get("/audit/?action=export.").get_data(as_text=True))
    assert len(only_exports) == 2 and all("export." in r for r in only_exports)
    exact = rows_of(client.get("/audit/?action=export.xlsx").get_data(as_text=True))
    assert len(exact) == 1
    by_user = rows_of(client.get(f"/audit/?user={volunteer.id}").get_data(as_text=True))
    assert by_user and all(volunteer.email in r for r in by_user)
    by_date = rows_of(client.get("/audit/?from=2025-01-15&to=2025-01-15").get_data(as_text=True))
    assert len(by_date) == 1 and "export.brief" in by_date[0]
    assert "Aucun enregistrement" in client.get("/audit/?from=2025-01-16&to=2025-01-16").get_data(as_text=True)
    # Garbage in the filters is ignored, not an error.
    assert client.get("/audit/?from=hier&user=x&action=%25&page=-3").status_code == 200


def test_coordinator_sees_export_history_only(client, org, records):
    login(client, factories.user(org, "coordinator"))
    page = client.get("/audit/?action=case.&exports=0").get_data(as_text=True)
    assert "Historique des exports" in page
    assert rows_of(page) == []  # "case." is not an export: nothing, not the case records
    rows = rows_of(client.get("/audit/").get_data(as_text=True))
    assert len(rows) == 2 and all("export." in r for r in rows)
    assert "case.create" not in client.get("/audit/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["volunteer", "lawyer"])
def test_others_refused(client, org, role):
    login(client, factories.user(org, role))
    assert client.get("/audit/").status_code == 403


def test_filters_keep_underscores_and_bounds_never_500(client, org, volunteer, records):
    """Issue 16: « auth.login_failed » is found; huge ids and the last date are no error."""
    client.post("/login", data={"email": volunteer.email, "password": "mauvais mot de passe",
                                "csrf_token": csrf_token(client)})
    login(client, factories.user(org, "admin"))
    failed = rows_of(client.get("/audit/?action=auth.login_failed").get_data(as_text=True))
    assert len(failed) == 1 and "auth.login_failed" in failed[0]
    for query in ("user=999999999999999999999999999999", "to=9999-12-31", "from=9999-12-31",
                  "to=9999-12-30", "page=99999999999999999999999"):
        assert client.get(f"/audit/?{query}").status_code == 200, query
    assert len(rows_of(client.get("/audit/?to=9999-12-31").get_data(as_text=True))) >= 3
