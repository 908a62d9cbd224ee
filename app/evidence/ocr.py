"""Reading exhibits (French Tesseract, PDF text) and the durable OCR queue worked in the background."""

from __future__ import annotations

import os
import shutil
import subprocess  # noqa: S404 - pdftoppm with fixed arguments, no shell
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update

from app.cases.services import clean_text, enqueue_index
from app.core.clock import utcnow
from app.evidence.models import Exhibit, OcrJob
from app.evidence.storage import store
from app.extensions import db

LANG = "fra"
PDF_TEXT_PAGES = 200
PDF_OCR_PAGES = 3
PDF_OCR_SIDE = 2400  # pixels on the long side: about 200 dpi for A4
OCR_TIMEOUT = 120  # seconds per page; a pathological image must not block the queue forever
MAX_OCR_SIDE = 4000  # big phone photos are scaled down: Tesseract time grows with pixels
LEASE = timedelta(minutes=10)  # a claimed job left by a killed worker comes back after this
MAX_FAILURES = 5
TEXT_LIMIT = 500_000


# Tesseract's OpenMP threads fight over small images: one thread reads a screenshot in 0.7 s
# here against 2-3.5 s with the default, and leaves the other core to the web app.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


class OcrUnavailable(Exception):
    """The engine (tesseract, its French data, or pdftoppm) is missing: retry later."""


_engine_lock = threading.Lock()
_engine_state: dict[str, object] = {"checked_at": 0.0, "ok": False, "reason": ""}


def engine_status(max_age: float = 60.0) -> tuple[bool, str]:
    """(available, reason) for Tesseract with French, re-checked at most once a minute."""
    with _engine_lock:
        if time.monotonic() - float(_engine_state["checked_at"]) < max_age and _engine_state["checked_at"]:
            return bool(_engine_state["ok"]), str(_engine_state["reason"])
        ok, reason = _probe()
        _engine_state.update(checked_at=time.monotonic(), ok=ok, reason=reason)
        return ok, reason


def reset_engine_status() -> None:
    with _engine_lock:
        _engine_state.update(checked_at=0.0, ok=False, reason="")


def _probe() -> tuple[bool, str]:
    try:
        import pytesseract

        languages = pytesseract.get_languages(config="")
    except Exception:  # noqa: BLE001 - any failure here means "no engine"
        return False, "tesseract absent"
    if LANG not in languages:
        return False, "données françaises de tesseract absentes"
    return True, ""


def ocr_image(image) -> str:
    """French text of a Pillow image."""
    import pytesseract
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if max(image.size) > MAX_OCR_SIDE:
        image = image.copy()
        image.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE))
    try:
        return pytesseract.image_to_string(image, lang=LANG, timeout=OCR_TIMEOUT)
    except pytesseract.TesseractNotFoundError:
        reset_engine_status()
        raise OcrUnavailable("tesseract absent") from None


def read_path(path: Path, mime: str) -> str:
    """The text of a stored file: OCR for images, embedded text (else OCR) for PDFs."""
    ok, reason = engine_status()
    if mime.startswith("image/"):
        if not ok:
            raise OcrUnavailable(reason)
        from PIL import Image

        from app.evidence.thumbnails import render_isolated

        # Decoded and scaled down in a separate process with memory and time limits (a hostile
        # image never swells the web worker); Tesseract then reads the bounded PNG.
        with tempfile.TemporaryDirectory(prefix="constat-ocr-") as tmp:
            scaled = Path(tmp) / "image.png"
            if not render_isolated(path, mime, MAX_OCR_SIDE, scaled):
                raise ValueError("image not decodable within the renderer's limits")
            with Image.open(scaled) as img:
                img.load()
                return ocr_image(img)
    if mime == "application/pdf":
        text = pdf_text(path)
        if len("".join(text.split())) >= 20:
            return text
        if not ok:
            raise OcrUnavailable(reason)
        # Scaled to a fixed size rather than a resolution: a PDF page can claim any dimensions.
        pages = render_pdf_pages(path, PDF_OCR_PAGES, 0, scale_to=PDF_OCR_SIDE)
        return "\n\n".join(ocr_image(page) for page in pages)
    return ""


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            return ""
        return "\n\n".join((page.extract_text() or "") for page in reader.pages[:PDF_TEXT_PAGES])
    except Exception:  # noqa: BLE001 - an unreadable text layer falls back to OCR
        return ""


def render_pdf_pages(path: Path, pages: int, dpi: int, scale_to: int | None = None) -> list:
    """The first pages of a PDF as Pillow images, through pdftoppm (poppler-utils)."""
    from PIL import Image

    binary = shutil.which("pdftoppm")
    if binary is None:
        raise OcrUnavailable("pdftoppm absent (poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="constat-pdf-") as tmp:
        args = [binary, "-png", "-f", "1", "-l", str(pages)]
        args += ["-scale-to", str(scale_to)] if scale_to else ["-r", str(dpi)]
        subprocess.run([*args, str(path), str(Path(tmp) / "page")], check=True,  # noqa: S603
                       capture_output=True, timeout=OCR_TIMEOUT)
        images = []
        for page in sorted(Path(tmp).glob("page*.png")):
            with Image.open(page) as img:
                img.load()
                images.append(img.copy())
        return images


# --- the queue ---------------------------------------------------------------------------------

@dataclass
class JobOutcome:
    exhibit_id: int
    status: str  # done | unavailable | failed | gone


def _claim(now, ignore_schedule: bool, skip: set[int]) -> OcrJob | None:
    """Take the next due job and push its next attempt beyond a lease, so that another worker
    (second gunicorn process, the CLI) does not read the same exhibit at the same time."""
    query = select(OcrJob).order_by(OcrJob.next_attempt_at, OcrJob.id).limit(1)
    if not ignore_schedule:
        query = query.where(OcrJob.next_attempt_at <= now)
    if skip:
        query = query.where(OcrJob.id.not_in(skip))
    job = db.session.scalar(query)
    if job is None:
        db.session.rollback()
        return None
    claimed = db.session.execute(
        update(OcrJob).where(OcrJob.id == job.id, OcrJob.next_attempt_at == job.next_attempt_at)
        .values(next_attempt_at=now + LEASE, attempts=OcrJob.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        skip.add(job.id)
        return _claim(now, ignore_schedule, skip)
    db.session.refresh(job)
    return job


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most an hour: OCR comes back soon after Tesseract is installed."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def work_one(*, ignore_schedule: bool = False, skip: set[int] | None = None) -> JobOutcome | None:
    """Read one queued exhibit and store its text; None when no job is due.

    OCR runs outside any write transaction: SQLite keeps one writer and Tesseract takes seconds.
    """
    skip = skip if skip is not None else set()
    now = utcnow()
    job = _claim(now, ignore_schedule, skip)
    if job is None:
        return None
    skip.add(job.id)
    job_id, exhibit_id, attempts = job.id, job.exhibit_id, job.attempts
    exhibit = db.session.get(Exhibit, exhibit_id)
    if exhibit is None:
        db.session.delete(job)
        db.session.commit()
        return JobOutcome(exhibit_id, "gone")
    sha256, mime = exhibit.sha256, exhibit.mime
    db.session.rollback()  # end the read transaction before the slow part
    error, status, text = "", "done", ""
    try:
        path = store().path_for(sha256)
        if not path.is_file():
            raise FileNotFoundError("fichier absent du dépôt")
        text = read_path(path, mime)
    except OcrUnavailable as exc:
        status, error = "unavailable", str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad file must not stop the queue
        # Only the exception type: messages may quote paths or text read from the file.
        status, error = "failed", type(exc).__name__
    job = db.session.get(OcrJob, job_id)
    exhibit = db.session.get(Exhibit, exhibit_id)
    if exhibit is None or job is None:
        db.session.rollback()
        return JobOutcome(exhibit_id, "gone")
    if status == "done":
        exhibit.ocr_text = clean_text(text)[:TEXT_LIMIT]
        exhibit.ocr_status = "done"
        db.session.delete(job)
        # Same transaction as the text: search re-indexes the case once this commits.
        enqueue_index(exhibit.case_id)
    elif status == "unavailable":
        exhibit.ocr_status = "unavailable"
        job.last_error = error
        job.next_attempt_at = utcnow() + backoff(attempts)
    elif attempts >= MAX_FAILURES:
        exhibit.ocr_status = "failed"
        db.session.delete(job)
    else:
        job.last_error = error
        job.next_attempt_at = utcnow() + backoff(attempts)
    db.session.commit()
    if status == "done":
        _warm_thumbnail(sha256, mime)
    return JobOutcome(exhibit_id, status if status != "failed" or attempts >= MAX_FAILURES else "retry")


def _warm_thumbnail(sha256: str, mime: str) -> None:
    from app.evidence import thumbnails

    try:
        thumbnails.get(sha256, mime, "thumb")
    except Exception:  # noqa: BLE001, S110 - a thumbnail is a convenience; the page makes it on demand
        pass


def tick(app: Flask) -> bool:
    """Background worker: one job per call; True when it did work (call again at once)."""
    return work_one() is not None


def work_queue(*, ignore_schedule: bool = True) -> dict[str, int]:
    """Work every queued job once (the CLI); returns counts by outcome."""
    counts: dict[str, int] = {}
    skip: set[int] = set()
    while (outcome := work_one(ignore_schedule=ignore_schedule, skip=skip)) is not None:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts
