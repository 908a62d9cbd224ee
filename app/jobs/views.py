"""/jobs/<id>: a background job's progress page, its JSON, and its file — for its requester only
(anyone else gets 404, as for a job that does not exist)."""

from __future__ import annotations

import io

from flask import Blueprint, abort, jsonify, render_template, send_file, url_for
from flask_login import current_user

from app.audit import services as audit
from app.core import workers
from app.core.clock import utcnow
from app.extensions import db
from app.jobs import runners, services
from app.jobs.models import DONE, FAILED

bp = Blueprint("jobs", __name__, template_folder="templates")


def init_app(app) -> None:
    runners.register()
    # On the embedded default the app's own thread works the queue; with several servers,
    # START_WORKERS=0 on the app servers and `flask worker` processes do it.
    workers.register("jobs", services.tick, 1.0)
    from app.cases.uploads import cleanup_tick

    workers.register("import-uploads", cleanup_tick, 600.0)


def _job_or_404(job_id: int):
    job = services.for_user(job_id, current_user)
    if job is None:
        abort(404)
    return job


def _download_url(job) -> str | None:
    if job.state == DONE and job.filename:
        return url_for("jobs.download", job_id=job.id)
    return None


def _eta_seconds(job) -> int | None:
    """Time left, from the pace so far (None until there is a pace to go by)."""
    if job.state != "running" or not job.started_at or not job.done or not job.total:
        return None
    elapsed = (utcnow() - job.started_at).total_seconds()
    return max(0, round(elapsed / job.done * (job.total - job.done)))


def _page(job, **extra):
    return render_template("jobs/show.html", job=job, label=services.KIND_LABELS.get(job.kind, job.kind),
                           noun=services.noun(job.kind), importing=job.kind.startswith("import."),
                           FAILED=FAILED, DONE=DONE, **extra)


@bp.route("/jobs/<int:job_id>")
def show(job_id: int):
    job = _job_or_404(job_id)
    return _page(job, download=_download_url(job), eta=_eta_seconds(job))


@bp.route("/jobs/<int:job_id>.json")
def show_json(job_id: int):
    job = _job_or_404(job_id)
    return jsonify({"state": job.state, "done": job.done, "total": job.total, "download": _download_url(job),
                    **({"result": job.result} if job.result else {})})


@bp.route("/jobs/<int:job_id>/download")
def download(job_id: int):
    job = _job_or_404(job_id)
    content = services.file_of(job) if job.state == DONE else None
    if content is None:
        return _page(job, download=None, eta=None, gone=True), 410
    audit.record("job.downloaded", actor=current_user, object_type="job", object_id=job.id, kind=job.kind,
                 sha256=job.sha256)
    db.session.commit()
    return send_file(io.BytesIO(content), mimetype=job.mimetype, as_attachment=True, download_name=job.filename,
                     max_age=0)
