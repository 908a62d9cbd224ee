"""The web import (issue 14): upload, preview, confirm; all or nothing, every problem named."""

import html
import io
import re

import pytest
from sqlalchemy import func, select

from app.cases.models import Case, Event
from app.extensions import db as _db
from tests import factories
from tests.cases.test_importer import HYPERLINK, row, write_csv, write_xlsx, write_xlsx_text_cells
from tests.conftest import csrf_token, login


def files_in(folder):
    return [p for p in folder.rglob("*") if p.is_file()]


def count(model):
    return _db.session.scalar(select(func.count(model.id)))


def upload(client, path, token):
    with path.open("rb") as fh:
        return client.post("/cases/import", data={"csrf_token": token, "file": (io.BytesIO(fh.read()), path.name)},
                           content_type="multipart/form-data")


def coordinator_client(app, org):
    client = app.test_client()
    login(client, factories.user(org, "coordinator"))
    return client, csrf_token(client, "/cases/import")


def test_bad_file_refused_whole_with_every_problem_by_sheet_row_and_column(app, org, tmp_path):
    client, token = coordinator_client(app, org)
    path = write_xlsx(tmp_path / "bad.xlsx", [
        row(**{"Référence": "A-1", "Nom": "Traoré"}),
        row(**{"Préfecture": "", "Statut": "inconnu"}),
        row(**{"Date de naissance": "31/02/1990"}),
    ], events=[["A-1", "pas une date", "CCC", ""], ["Z-9", "01/02/2025", "CCC", ""]])
    response = upload(client, path, token)
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page
    assert "Import refusé : 5 problèmes, rien n'a été enregistré" in page
    cells = [re.sub(r"\s+", " ", c) for c in re.findall(r"<tr><td>(.*?)</td></tr>", page, re.S)]
    assert len(cells) == 5
    assert any("Cas</td><td>3</td><td>Préfecture" in c for c in cells)
    assert any("Cas</td><td>3</td><td>Statut" in c for c in cells)
    assert any("Cas</td><td>4</td><td>Date de naissance" in c for c in cells)
    assert any("Chronologie</td><td>2</td><td>Date" in c for c in cells)
    assert any("Chronologie</td><td>3</td><td>Référence" in c for c in cells)
    assert count(Case) == 0
    # Nothing left to confirm: the refused file is not kept.
    confirm = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert confirm.status_code == 302 and count(Case) == 0
    assert not list((app.config["DATA_DIR"] / "imports").iterdir())


def test_preview_then_confirm_imports_text_starting_with_equals_literally(app, org, tmp_path):
    client, token = coordinator_client(app, org)
    path = write_xlsx_text_cells(tmp_path / "ok.xlsx", [
        row(**{"Référence": "LYO-2020-0001", "Nom": "Konaté", "Récit": HYPERLINK}), row()])
    response = upload(client, path, token)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>2 dossiers</strong>" in page and "LYO-2020-0001" in page and "69 – Rhône" in page
    assert "Konaté" not in page  # the preview never shows identity (coordinators may not see it)
    assert count(Case) == 0
    response = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert response.status_code == 302 and response.location.endswith("/cases/")
    assert count(Case) == 2
    narrative = _db.session.scalar(select(Case.narrative).where(Case.reference == "LYO-2020-0001"))
    assert narrative == HYPERLINK
    assert not list((app.config["DATA_DIR"] / "imports").iterdir())
    # Confirming twice imports nothing more.
    again = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert again.status_code == 302 and count(Case) == 2


def test_confirm_checks_again(app, org, tmp_path):
    """A reference taken between preview and confirm: refused whole at confirm."""
    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row(**{"Référence": "LYO-2020-0009"}), row()]), token)
    factories.case(org, reference="LYO-2020-0009")
    response = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert response.status_code == 422
    assert "existe déjà" in response.get_data(as_text=True)
    assert count(Case) == 1 and count(Event) == 0


def test_missing_file_and_wrong_format_say_so(app, org, tmp_path):
    client, token = coordinator_client(app, org)
    response = client.post("/cases/import", data={"csrf_token": token}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Aucun fichier envoyé" in page and 'href="#import-file"' in page
    path = tmp_path / "notes.txt"
    path.write_text("bonjour")
    response = upload(client, path, token)
    assert response.status_code == 422 and "Format non pris en charge" in response.get_data(as_text=True)


def test_volunteers_and_lawyers_cannot_import(app, org, tmp_path):
    for role in ("volunteer", "lawyer"):
        client = app.test_client()
        login(client, factories.user(org, role))
        assert client.get("/cases/import").status_code == 403


@pytest.fixture
def small_job_threshold(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_THRESHOLD_CASES", 2)


def test_a_large_import_runs_in_the_background_then_says_what_it_created(app, org, tmp_path, small_job_threshold):
    from app.audit.models import AuditRecord
    from app.jobs import services as jobs

    client, token = coordinator_client(app, org)
    path = write_xlsx(tmp_path / "grand.xlsx", [row(**{"Référence": f"LYO-2020-000{i}"}) for i in range(1, 4)],
                      events=[["LYO-2020-0001", "01/02/2025", "CCC", "Appel au CCC"]])
    preview = html.unescape(upload(client, path, token).get_data(as_text=True))
    assert "l'import se fera en arrière-plan" in preview
    response = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert response.status_code == 303 and response.location.startswith("/jobs/")
    job_url = response.location
    assert count(Case) == 0
    assert client.get(f"{job_url}.json").get_json() == {"state": "queued", "done": 0, "total": 3, "download": None}
    assert "En attente : l'import démarrera" in html.unescape(client.get(job_url).get_data(as_text=True))
    assert jobs.tick(app) is True
    state = client.get(f"{job_url}.json").get_json()
    assert state["state"] == "done" and state["done"] == state["total"] == 3 and state["download"] is None
    assert state["result"] == "3 dossiers et 1 événement importés."
    page = client.get(job_url).get_data(as_text=True)
    assert "Import terminé : 3 dossiers et 1 événement importés." in page and "Voir les dossiers" in page
    assert count(Case) == 3 and count(Event) == 1
    assert not files_in(app.config["DATA_DIR"] / "imports")  # the file is gone once committed
    actions = list(_db.session.scalars(select(AuditRecord.action)))
    assert "job.submitted" in actions and actions.count("case.import") == 1
    # Nobody else sees it, and confirming again imports nothing more.
    colleague = app.test_client()
    login(colleague, factories.user(org, "coordinator"))
    assert colleague.get(job_url).status_code == 404
    again = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert again.status_code == 302 and count(Case) == 3


def test_a_background_import_checks_again_and_writes_nothing_when_refused(app, org, tmp_path, small_job_threshold):
    from app.jobs import services as jobs

    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row(**{"Référence": f"LYO-2020-000{i}"}) for i in range(1, 4)]),
           token)
    job_url = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"}).location
    factories.case(org, reference="LYO-2020-0002")  # taken while the job waited
    assert jobs.tick(app) is True
    state = client.get(f"{job_url}.json").get_json()
    assert state["state"] == "failed"
    page = html.unescape(client.get(job_url).get_data(as_text=True))
    assert "L'import n'a pas abouti" in page and "existe déjà" in page and "rien n'a été importé" in page
    assert count(Case) == 1
    assert not files_in(app.config["DATA_DIR"] / "imports")
    # The refusal quotes cells of the file: it goes with the job's keeping time.
    from datetime import timedelta

    from app.core.clock import utcnow
    from app.jobs.models import Job

    assert jobs.expire(utcnow() + timedelta(hours=25)) == 1
    assert _db.session.scalar(select(Job.error)) == ""


def test_a_background_import_whose_file_expired_says_so(app, org, tmp_path, small_job_threshold):
    from app.jobs import services as jobs

    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row(), row(), row()]), token)
    job_url = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"}).location
    for item in files_in(app.config["DATA_DIR"] / "imports"):
        item.unlink()  # lost (a disk replaced…): the job says so
    assert jobs.tick(app) is True
    assert "envoyez-le à nouveau" in html.unescape(client.get(job_url).get_data(as_text=True))
    assert count(Case) == 0


def test_a_background_import_reports_its_progress_while_it_checks(app, org, tmp_path, small_job_threshold):
    """600 rows: the job's progress is written (on its own connection) as the rows are checked,
    then the whole file is written in one transaction."""
    from sqlalchemy import event

    from app.jobs import services as jobs

    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row() for _ in range(600)]), token)
    job_url = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"}).location
    written = []

    def watch(_conn, _cursor, statement, parameters, _context, _many):
        if statement.startswith("UPDATE jobs SET done="):
            written.append(parameters["done"] if isinstance(parameters, dict) else parameters[0])

    event.listen(_db.engine, "before_cursor_execute", watch)
    try:
        assert jobs.tick(app) is True
    finally:
        event.remove(_db.engine, "before_cursor_execute", watch)
    assert written[:2] == [250, 500] and written[-1] == 600
    assert client.get(f"{job_url}.json").get_json()["state"] == "done" and count(Case) == 600


def test_a_background_import_confirmed_twice_imports_once(app, org, tmp_path, small_job_threshold):
    """Two tabs, or a double click: the file moves to the first job; the second finds nothing."""
    from app.jobs import services as jobs
    from app.jobs.models import Job

    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row(), row(), row()]), token)
    with client.session_transaction() as saved:
        pending = dict(saved["import_upload"])
    first = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert first.status_code == 303
    with client.session_transaction() as saved:
        saved["import_upload"] = pending  # the second tab still holds the preview
    second = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert second.status_code == 302 and second.location.endswith("/cases/import")
    assert _db.session.scalar(select(func.count(Job.id))) == 1
    while jobs.tick(app):
        pass
    assert count(Case) == 3


def test_a_worker_that_lost_its_claim_writes_nothing(app, org, tmp_path, small_job_threshold):
    """Its lease passed and another worker took the job: the late one's rows are rolled back."""
    from sqlalchemy import update

    from app.jobs import services as jobs
    from app.jobs.models import Job

    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row(), row(), row()]), token)
    client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    job = jobs.claim()
    job_id = job.id
    # Meanwhile another worker took it over (its attempt counter moved on), on its own connection;
    # the late worker's loaded job still carries its own claim.
    with _db.engine.begin() as other_worker:
        other_worker.execute(update(Job).where(Job.id == job_id).values(attempts=Job.attempts + 1))
    assert jobs.run(job) == "running"
    _db.session.rollback()
    assert count(Case) == 0
    assert _db.session.get(Job, job_id).state == "running"


def test_job_files_nobody_owns_are_swept(app, org, tmp_path, small_job_threshold):
    """A job file outlives its job when the job row is deleted with its association, or when a
    worker died between the end and the deletion: the cleanup worker removes it, and never the
    file of a job still waiting or running."""
    from datetime import timedelta

    from app.cases import uploads
    from app.jobs import services as jobs
    from app.jobs.models import FAILED, Job

    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row(), row(), row()]), token)
    client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    waiting = _db.session.scalars(select(Job)).one()
    folder = app.config["DATA_DIR"] / "imports" / "jobs"
    waiting_file = next(folder.iterdir())
    ended = uploads.job_file(waiting.id + 1, ".xlsx")
    ended.write_bytes(b"Nom;Prenom\nDiallo;Awa\n")
    gone = uploads.job_file(waiting.id + 2, ".csv")
    gone.write_bytes(b"Nom;Prenom\nDiallo;Awa\n")
    _db.session.add(Job(id=waiting.id + 1, kind="import.cases", org_id=org.id, user_id=waiting.user_id, state=FAILED))
    _db.session.commit()
    with app.app_context():
        # Files moved within the last hour may belong to a confirmation not committed yet.
        assert uploads.forget_orphan_job_files() == 0 and ended.exists() and gone.exists()
        assert uploads.forget_orphan_job_files(age=timedelta(0)) == 2
    assert waiting_file.exists() and not ended.exists() and not gone.exists()
    assert jobs.tick(app) is True  # the waiting import still has its file
    assert count(Case) == 3
