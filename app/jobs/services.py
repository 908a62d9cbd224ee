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
_FINALISERS: dict[str, Callable[[int], None]] = {}
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


def noun(kind: str) -> str:
    """« l'import » or « l'export »: how the progress page speaks of the job."""
    return "l'import" if kind.startswith("import.") else "l'export"


class JobRefused(ValueError):
    """The job can no longer run (French reason, shown to its requester)."""


def register_kind(kind: str, runner: Callable, *, on_end: Callable[[int], None] | None = None) -> None:
    """`on_end(job_id)` runs once the job has ended for good (done, or failed for the last time)."""
    _RUNNERS[kind] = runner
    if on_end is not None:
        _FINALISERS[kind] = on_end


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
    """Run a claimed job to its end; returns its state. Never raises.

    The end is written only if this worker still holds the claim (same attempt, still running): a
    worker whose lease passed while it ran, and whose job another worker took, rolls its work back
    — an import's rows included, since they commit with the DONE state or not at all."""
    from app.auth.models import User

    job_id, kind, claimed, total = job.id, job.kind, job.attempts, job.total
    runner = _RUNNERS.get(kind)
    user = db.session.get(User, job.user_id)
    try:
        if runner is None:
            raise JobRefused("type de travail inconnu de ce serveur : mettez-le à jour.")
        if user is None or not user.active:
            raise JobRefused("le compte qui l'a demandé n'est plus actif.")
        export = runner(job, user, json.loads(job.params or "{}"), _progress_writer(job_id))
    except Exception as exc:  # noqa: BLE001 - any failure is the job's, not the worker's
        db.session.rollback()
        final = isinstance(exc, JobRefused) or claimed >= MAX_ATTEMPTS
        if not isinstance(exc, JobRefused):
            # The type only: a message could quote personal data.
            current_app.logger.warning("job %s (%s) failed: %s", job_id, kind, type(exc).__name__)
        now = utcnow()
        error = str(exc) if isinstance(exc, JobRefused) else \
            (f"{noun(kind)} a échoué ; réessayez, et prévenez l'administration si cela se reproduit." if final else "")
        values = {"state": FAILED if final else QUEUED, "lease_until": None, "error": error}
        if final:
            values.update(finished_at=now, expires_at=now + timedelta(hours=keep_hours()))
        if not _end(job_id, claimed, values):
            return RUNNING
        if final:
            _finalise(kind, job_id)
        return values["state"]
    now = utcnow()
    count = max(total, export.rows)
    values = {"state": DONE, "finished_at": now, "lease_until": None, "done": count, "total": count,
              "expires_at": now + timedelta(hours=keep_hours())}
    if isinstance(export, Outcome):
        values["result"] = export.message
    else:
        db.session.add(JobFile(job_id=job_id, content=export.content))
        values.update(filename=export.filename, mimetype=export.mimetype, sha256=export.sha256)
    if not _end(job_id, claimed, values):
        return RUNNING
    _finalise(kind, job_id)
    return DONE


def _end(job_id: int, claimed: int, values: dict) -> bool:
    """Write the job's end and commit, if this worker still holds its claim; else roll back."""
    query = update(Job).where(Job.id == job_id, Job.attempts == claimed, Job.state == RUNNING).values(**values)
    if db.session.execute(query.execution_options(synchronize_session=False)).rowcount != 1:
        db.session.rollback()
        current_app.logger.warning("job %s: claim lost to another worker, work rolled back", job_id)
        return False
    db.session.commit()
    return True


def _finalise(kind: str, job_id: int) -> None:
    """What a kind does once its job has ended for good (an import deletes its file)."""
    finaliser = _FINALISERS.get(kind)
    if finaliser is not None:
        try:
            finaliser(job_id)
        except OSError:
            current_app.logger.warning("job %s: clean-up failed", job_id)


def expire(now=None) -> int:
    """Delete the files of jobs past their keeping time; returns how many."""
    now = now or utcnow()
    ids = list(db.session.scalars(select(Job.id).where(Job.expires_at.is_not(None), Job.expires_at < now)))
    if not ids:
        return 0
    db.session.execute(delete(JobFile).where(JobFile.job_id.in_(ids)))
    # The messages go too: an import's refusal quotes cells of the file (possibly personal data).
    db.session.execute(update(Job).where(Job.id.in_(ids)).values(expires_at=None, filename="", error="", result=""))
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
