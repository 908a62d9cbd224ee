"""Background jobs through the web contract and the worker: progress, download, one run per job,
a dead worker's job taken up again, failures, expiry. Real SQLite file, real threads."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.core.clock import utcnow
from app.extensions import db
from app.jobs import services
from app.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job
from tests import factories
from tests.conftest import login
from tests.exports.helpers import xlsx_cells


@pytest.fixture
def five_cases(org):
    volunteer = factories.user(org, "volunteer")
    cases = [factories.case(org, volunteer, last_name=f"Nom{i}") for i in range(5)]
    for case in cases:
        factories.event(case, "TENTATIVE", date(2025, 3, 1))
    return cases


@pytest.fixture
def small_threshold(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_THRESHOLD_CASES", 2)


def test_a_large_workbook_runs_in_the_background_with_progress_then_downloads(
        app, client, org, five_cases, small_threshold):
    coordinator = factories.user(org, "coordinator")
    login(client, coordinator)
    response = client.get("/exports/cases.xlsx")
    assert response.status_code == 303 and response.location.startswith("/jobs/")
    job_url = response.location
    state = client.get(f"{job_url}.json").get_json()
    assert state == {"state": "queued", "done": 0, "total": 5, "download": None}
    page = client.get(job_url).get_data(as_text=True)
    assert "En attente" in page and 'http-equiv="refresh"' in page
    assert services.tick(app) is True
    state = client.get(f"{job_url}.json").get_json()
    assert state["state"] == "done" and state["done"] == state["total"] == 5 and state["download"]
    assert "Télécharger" in client.get(job_url).get_data(as_text=True)
    download = client.get(state["download"])
    assert download.status_code == 200
    assert len(xlsx_cells(download.data)["Cas"]) == 6
    actions = set(db.session.scalars(select(AuditRecord.action)))
    assert {"job.submitted", "export.xlsx", "job.downloaded"} <= actions
    # Nobody else sees the job, not even a colleague.
    colleague = app.test_client()
    login(colleague, factories.user(org, "coordinator"))
    for path in (job_url, f"{job_url}.json", state["download"]):
        assert colleague.get(path).status_code == 404


def test_small_exports_stay_immediate(app, client, org, five_cases):
    login(client, factories.user(org, "coordinator"))
    response = client.get("/exports/cases.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"


def test_two_workers_never_run_the_same_job(app, org, five_cases):
    user = factories.user(org, "coordinator")
    services.submit("export.xlsx", user, total=5, filters={}, q="")
    db.session.commit()
    claimed, barrier = [], threading.Barrier(4)

    def worker():
        with app.app_context():
            barrier.wait()
            job = services.claim()
            if job is not None:
                claimed.append(job.id)
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 1


def test_a_dead_workers_job_is_taken_up_again_after_its_lease(app, org, five_cases):
    user = factories.user(org, "coordinator")
    job = services.submit("export.xlsx", user, total=5, filters={}, q="")
    job.state, job.attempts, job.lease_until = RUNNING, 1, utcnow() + timedelta(minutes=1)
    db.session.commit()
    assert services.claim() is None  # its worker may still be alive
    job.lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    again = services.claim()
    assert again is not None and again.id == job.id and again.attempts == 2
    assert services.run(again) == DONE


def test_failures_are_retried_then_reported_in_french(app, org, five_cases, monkeypatch):
    user = factories.user(org, "coordinator")
    job = services.submit("export.xlsx", user, total=5, filters={}, q="")
    db.session.commit()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    # Outside our control in a test: a disk that fails mid-export.
    monkeypatch.setitem(services._RUNNERS, "export.xlsx", broken)
    for expected in (QUEUED, QUEUED, FAILED):
        assert services.run(services.claim()) == expected
    db.session.refresh(job)
    assert job.state == FAILED and "réessayez" in job.error


def test_a_role_change_before_the_run_refuses_the_job(app, org, five_cases):
    user = factories.user(org, "coordinator")
    job = services.submit("export.xlsx", user, total=5, filters={}, q="", identified=True)
    db.session.commit()
    assert services.run(services.claim()) == FAILED
    db.session.refresh(job)
    assert job.state == FAILED and "rôle" in job.error


def test_files_expire(app, client, org, five_cases, small_threshold):
    user = factories.user(org, "coordinator")
    login(client, user)
    job_url = client.get("/exports/cases.xlsx").location
    services.tick(app)
    job = db.session.scalars(select(Job)).one()
    job.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert services.expire() == 1
    assert client.get(f"/jobs/{job.id}/download").status_code == 410
    assert "plus disponible" in client.get(f"/jobs/{job.id}/download").get_data(as_text=True)
    assert client.get(f"{job_url}.json").get_json()["download"] is None


def test_flask_worker_once_drains_the_queue(app, org, five_cases):
    user = factories.user(org, "coordinator")
    services.submit("export.dossier", user, total=5, filters={}, q="")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(Job.state)).one() == DONE


def test_a_workbook_past_excels_rows_is_refused_in_french_not_cut(app, org, five_cases, monkeypatch, tmp_path):
    """More rows than a sheet holds (1,048,576; 6 here): the job fails at once with the reason
    for its requester, and the command line says it; nothing is silently dropped."""
    from app.exports import xlsx

    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 6)  # the header and five cases fit, not a sixth
    user = factories.user(org, "coordinator")
    factories.case(org, user, last_name="Sixième")
    job = services.submit("export.xlsx", user, total=6, filters={}, q="")
    db.session.commit()
    assert services.run(services.claim()) == FAILED
    db.session.refresh(job)
    assert job.state == FAILED and job.attempts == 1 and "« Cas » dépasserait 1 048 576 lignes" in job.error
    result = app.test_cli_runner().invoke(args=["exports", "xlsx", "--org", org.slug, "-o", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 1 and "réduisez la sélection" in result.output
    assert not (tmp_path / "x.xlsx").exists()
