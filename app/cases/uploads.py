"""Where spreadsheets uploaded for a web import wait: IMPORT_DIR (beside a shared EXHIBIT_STORE,
so that the preview, the confirmation and a background job may each reach a different server).

A previewed file holds personal data and is kept an hour at most. A confirmed large import's file
is moved, atomically, to `jobs/<job id>.<ext>`: it then belongs to that job alone (a second
confirmation finds nothing to import) and is deleted when the job ends for good. A job file
whose job is gone (its association deleted) or ended without deleting it (a crash in between)
is swept by the cleanup worker.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app

from app.core.clock import utcnow

UPLOAD_TTL = timedelta(hours=1)
SUFFIXES = (".xlsx", ".csv")


def import_dir() -> Path:
    path = Path(current_app.config.get("IMPORT_DIR") or Path(current_app.config["DATA_DIR"]) / "imports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_file(job_id: int, suffix: str) -> Path:
    folder = import_dir() / "jobs"
    folder.mkdir(exist_ok=True)
    return folder / f"{int(job_id)}{suffix if suffix in SUFFIXES else '.xlsx'}"


def hand_to_job(path: Path, job_id: int) -> bool:
    """Move a previewed upload to its job's name; False when it is gone (confirmed twice…)."""
    try:
        os.replace(path, job_file(job_id, path.suffix.lower()))
    except FileNotFoundError:
        return False
    return True


def forget_job_file(job_id: int) -> None:
    for suffix in SUFFIXES:
        job_file(job_id, suffix).unlink(missing_ok=True)


def forget_old_uploads() -> int:
    """Delete previewed uploads older than UPLOAD_TTL (jobs' files are the jobs' business)."""
    limit = (utcnow() - UPLOAD_TTL).timestamp()
    removed = 0
    for item in import_dir().iterdir():
        try:
            if item.is_file() and item.stat().st_mtime < limit:
                item.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def forget_orphan_job_files(age: timedelta = UPLOAD_TTL) -> int:
    """Delete the job files no waiting or running job owns. Only files moved to their job's name
    more than `age` ago (the rename sets ctime): the job row of a confirmation is committed just
    after its file moves, and another server must not see that file as an orphan meanwhile."""
    from sqlalchemy import select

    from app.extensions import db
    from app.jobs.models import QUEUED, RUNNING, Job

    folder = import_dir() / "jobs"
    if not folder.is_dir():
        return 0
    limit = time.time() - age.total_seconds()
    files: dict[int, list[Path]] = {}
    for item in folder.iterdir():
        try:
            if item.is_file() and item.stem.isdigit() and item.stat().st_ctime <= limit:
                files.setdefault(int(item.stem), []).append(item)
        except OSError:
            continue
    if not files:
        return 0
    owned = set(db.session.scalars(select(Job.id).where(Job.id.in_(list(files)), Job.state.in_((QUEUED, RUNNING)))))
    removed = 0
    for job_id, paths in files.items():
        if job_id in owned:
            continue
        for path in paths:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def cleanup_tick(app) -> bool:
    """Background worker: previewed uploads nobody confirmed do not wait for the next upload, and
    no job file outlives its job."""
    forget_old_uploads()
    forget_orphan_job_files()
    return False
