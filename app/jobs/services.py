"""Submit, claim, run and expire background jobs.

Claiming is safe with any number of workers on any machine: on PostgreSQL the candidate row is
read `FOR UPDATE SKIP LOCKED`, and everywhere the claim itself is a compare-and-set on the
attempt counter, so two workers never run one job. A running job holds a lease that its
progress updates renew; when a worker dies the lease passes and another worker starts the job
again (an export is idempotent: it is simply rebuilt).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, delete, or_, select, update

from app.audit import services as audit
from app.core.clock import utcnow
from app.extensions import db
from app.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job, JobFile

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 3
PROGRESS_EVERY = 250  # rows between two progress writes (each also renews the lease)

# kind -> runner(job, user, params, progress) -> ExportFile | Outcome; filled by `register_kind`.
_RUNNERS: dict[str, Callable] = {}
KIND_LABELS = {
    "export.xlsx": "Classeur des dossiers",
    "export.dossier": "Dossier collectif",
    "coalition.xlsx": "Classeur commun de la coalition",
    "coalition.dossier": "Dossier collectif de la coalition",
    "import.cases": "Import de dossiers",
}


@dataclass
class Outcome:
    """What a job that makes no file did (an import), in French for its requester."""

    rows: int
    message: str
    after_commit: Callable[[], None] | None = None  # e.g. delete the imported file


def noun(kind: str) -> str:
    """« l'import » or « l'export »: how the progress page speaks of the job."""
    return "l'import" if kind.startswith("import.") else "l'export"


class JobRefused(ValueError):
    """The job can no longer run (French reason, shown to its requester)."""


def register_kind(kind: str, runner: Callable) -> None:
    _RUNNERS[kind] = runner


def threshold() -> int:
    """Above this many cases an export runs in the background (config JOB_THRESHOLD_CASES)."""
    return int(current_app.config.get("JOB_THRESHOLD_CASES", 2000))


def keep_hours() -> int:
    return int(current_app.config.get("JOB_KEEP_HOURS", 24))


def filters_to_params(filters) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(filters).items() if v}


def filters_from_params(data: dict):
    from app.cases.services import CaseFilters

    values = dict(data or {})
    for key in ("date_from", "date_to"):
        if values.get(key):
            values[key] = date.fromisoformat(values[key])
    return CaseFilters(**values)


def submit(kind: str, user, *, total: int, **params) -> Job:
    """Queue a job for `user` (the caller commits). `params` are codes and filters, never names."""
    if kind not in KIND_LABELS:
        raise ValueError(f"unknown job kind {kind}")
    job = Job(kind=kind, org_id=user.org_id, user_id=user.id, params=json.dumps(params, sort_keys=True),
              total=total)
    db.session.add(job)
    db.session.flush()
    audit.record("job.submitted", actor=user, object_type="job", object_id=job.id, kind=kind, total=total)
    return job


def for_user(job_id: int, user) -> Job | None:
    """The job if `user` asked for it; None otherwise (the view answers 404 either way)."""
    job = db.session.get(Job, job_id)
    return job if job is not None and job.user_id == user.id else None


def claim(now=None) -> Job | None:
    """Take the oldest queued job, or a running one whose worker's lease has passed."""
    now = now or utcnow()
    query = (select(Job.id, Job.attempts)
             .where(or_(Job.state == QUEUED, and_(Job.state == RUNNING, Job.lease_until < now)))
             .order_by(Job.id).limit(1).with_for_update(skip_locked=True))
    row = db.session.execute(query).first()
    if row is None:
        db.session.rollback()
        return None
    claimed = db.session.execute(
        update(Job).where(Job.id == row.id, Job.attempts == row.attempts,
                          or_(Job.state == QUEUED, and_(Job.state == RUNNING, Job.lease_until < now)))
        .values(state=RUNNING, attempts=Job.attempts + 1, lease_until=now + LEASE, started_at=now, done=0)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not claimed:  # another worker took it between the read and the update
        return None
    return db.session.get(Job, row.id)


def _progress_writer(job_id: int) -> Callable[[int, int], None]:
    """Writes progress (and renews the lease) on its own connection, so that the export's
    session and reads are untouched."""
    def write(done: int, total: int) -> None:
        with db.engine.begin() as conn:
            conn.execute(update(Job).where(Job.id == job_id, Job.state == RUNNING)
                         .values(done=done, total=max(total, done), lease_until=utcnow() + LEASE))
    return write


def counted(rows: Iterable, total: int, progress: Callable[[int, int], None] | None) -> Iterator:
    """Yield rows, reporting progress every PROGRESS_EVERY rows and at the end."""
    if progress is None:
        yield from rows
        return
    n = 0
    for n, row in enumerate(rows, start=1):
        if n % PROGRESS_EVERY == 0:
            progress(n, total)
        yield row
    progress(n, total)


def run(job: Job) -> str:
    """Run a claimed job to its end; returns its state. Never raises."""
    from app.auth.models import User

    job_id = job.id
    runner = _RUNNERS.get(job.kind)
    user = db.session.get(User, job.user_id)
    try:
        if runner is None:
            raise JobRefused("type de travail inconnu de ce serveur : mettez-le à jour.")
        if user is None or not user.active:
            raise JobRefused("le compte qui l'a demandé n'est plus actif.")
        export = runner(job, user, json.loads(job.params or "{}"), _progress_writer(job_id))
    except Exception as exc:  # noqa: BLE001 - any failure is the job's, not the worker's
        db.session.rollback()
        job = db.session.get(Job, job_id)
        final = isinstance(exc, JobRefused) or job.attempts >= MAX_ATTEMPTS
        if not isinstance(exc, JobRefused):
            # The type only: a message could quote personal data.
            current_app.logger.warning("job %s (%s) failed: %s", job_id, job.kind, type(exc).__name__)
        job.state = FAILED if final else QUEUED
        job.lease_until = None
        job.error = str(exc) if isinstance(exc, JobRefused) else \
            (f"{noun(job.kind)} a échoué ; réessayez, et prévenez l'administration si cela se reproduit."
             if final else "")
        if final:
            job.finished_at = utcnow()
        db.session.commit()
        return job.state
    # An import's rows are in this same session: they commit with the DONE state, or not at all.
    job = db.session.get(Job, job_id)
    now = utcnow()
    job.state, job.finished_at, job.lease_until = DONE, now, None
    if isinstance(export, Outcome):
        job.result = export.message
    else:
        db.session.add(JobFile(job_id=job.id, content=export.content))
        job.expires_at = now + timedelta(hours=keep_hours())
        job.filename, job.mimetype, job.sha256 = export.filename, export.mimetype, export.sha256
    job.done = job.total = max(job.total, export.rows)
    db.session.commit()
    if isinstance(export, Outcome) and export.after_commit is not None:
        export.after_commit()
    return DONE


def expire(now=None) -> int:
    """Delete the files of jobs past their keeping time; returns how many."""
    now = now or utcnow()
    ids = list(db.session.scalars(select(Job.id).where(Job.expires_at.is_not(None), Job.expires_at < now)))
    if not ids:
        return 0
    db.session.execute(delete(JobFile).where(JobFile.job_id.in_(ids)))
    db.session.execute(update(Job).where(Job.id.in_(ids)).values(expires_at=None, filename=""))
    audit.record("job.expired", jobs=len(ids))
    db.session.commit()
    return len(ids)


def tick(app) -> bool:
    """One unit of background work: expire old files, then run one job. True if it ran one."""
    expire()
    job = claim()
    if job is None:
        return False
    run(job)
    return True


def file_of(job: Job) -> bytes | None:
    row = db.session.get(JobFile, job.id)
    return row.content if row is not None else None
