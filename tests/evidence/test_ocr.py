"""OCR with the real French Tesseract: accuracy on clean screenshots, the durable queue, PDFs, absence."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import pytest
from sqlalchemy import select

from app.core import workers
from app.evidence import ocr
from app.evidence.models import Exhibit, OcrJob
from app.evidence.screenshots import MESSAGES, anef_screenshot
from app.evidence.services import add_exhibit
from app.search.models import IndexOutbox
from tests.evidence import files

needs_tesseract = pytest.mark.skipif(not ocr.engine_status(max_age=0)[0], reason="tesseract-ocr-fra absent")

SCREENS = [
    ("DEP-ERREUR", ["Référence de la demande : ANEF-69-2025-004217", "Date : 03/02/2025 à 14:32",
                    "Code erreur : ANEF-5031"]),
    ("DEP-STATUT", ["Numéro étranger : 7501234567", "Préfecture du Rhône, service des étrangers"]),
    ("API-ABS", ["Votre demande a été déposée le 12 janvier 2025.", "Statut : en cours d'instruction"]),
    ("RDV", ["Prise d'empreintes et photographie", "Aucune disponibilité dans les 90 prochains jours"]),
]


def words(text: str) -> Counter:
    text = unicodedata.normalize("NFC", text).lower().replace("’", "'")
    return Counter(w for w in re.split(r"[^\w'-]+", text) if w.strip("'-"))


def recovered(expected: str, read: str) -> float:
    want, got = words(expected), words(read)
    return sum((want & got).values()) / sum(want.values())


@needs_tesseract
def test_at_least_95_percent_of_words_come_back_from_clean_screenshots():
    from io import BytesIO

    from PIL import Image

    scores = []
    for code, details in SCREENS:
        title, message = MESSAGES[code]
        png = anef_screenshot(title, message, details=details)
        with Image.open(BytesIO(png)) as image:
            assert image.size == (1280, 800)
            text = ocr.ocr_image(image)
        score = recovered(" ".join([title, message, *details]), text)
        scores.append(score)
        assert score >= 0.95, (code, score, text)
    assert sum(scores) / len(scores) >= 0.95


@needs_tesseract
def test_queue_reads_the_screenshot_stores_the_text_and_asks_search_to_reindex(app, db, case, volunteer):
    from sqlalchemy import event as sa_event

    exhibit = add_exhibit(case, files.screenshot(extra="Code erreur : ANEF-7788"), "a.png", volunteer).exhibit
    db.session.commit()
    flushed = []

    def watch(session, _context, _instances):
        texts = [o.ocr_status for o in session.dirty if isinstance(o, Exhibit)]
        outbox = [o.case_id for o in session.new if isinstance(o, IndexOutbox)]
        if texts or outbox:
            flushed.append((texts, outbox))

    sa_event.listen(db.session, "before_flush", watch)
    try:
        assert ocr.tick(app) is True
        assert ocr.tick(app) is False  # queue empty
    finally:
        sa_event.remove(db.session, "before_flush", watch)
    # The text and the re-index request are written by one flush, so by one transaction.
    assert flushed == [(["done"], [case.id])]
    db.session.expire_all()
    exhibit = db.session.get(Exhibit, exhibit.id)
    assert exhibit.ocr_status == "done"
    assert "ANEF-7788" in exhibit.ocr_text and "erreur technique" in exhibit.ocr_text.lower()
    assert db.session.scalar(select(OcrJob)) is None


@needs_tesseract
def test_a_word_only_in_the_screenshot_is_found_by_search(app, db, org, case, volunteer):
    """Done-when of issue 3: upload, OCR by the worker, `flask search query` finds the case."""
    import json

    if "search" not in app.cli.commands or "query" not in app.cli.commands["search"].commands:
        pytest.skip("search not built yet")
    add_exhibit(case, files.screenshot(extra="Code erreur : ZORGLUBIX"), "a.png", volunteer)
    db.session.commit()
    workers.wait_idle(app, timeout=60)
    result = app.test_cli_runner().invoke(args=["search", "query", "zorglubix", "--org", org.slug, "--json"])
    assert result.exit_code == 0, result.output
    assert case.reference in result.output
    assert case.reference in json.dumps(json.loads(result.output))


def test_without_tesseract_the_job_waits_and_is_read_once_it_is_back(app, db, case, volunteer, monkeypatch):
    import pytesseract

    exhibit = add_exhibit(case, files.screenshot(), "a.png", volunteer).exhibit
    db.session.commit()
    real_cmd = pytesseract.pytesseract.tesseract_cmd
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr.reset_engine_status()
    try:
        outcome = ocr.work_one()
        assert outcome.status == "unavailable"
        db.session.expire_all()
        job = db.session.scalar(select(OcrJob))
        assert job is not None and job.attempts == 1 and "tesseract" in job.last_error
        assert job.next_attempt_at > ocr.utcnow()  # backoff: not retried at once
        assert db.session.get(Exhibit, exhibit.id).ocr_status == "unavailable"
        assert ocr.work_one() is None  # nothing due yet
        workers.wait_idle(app, timeout=5)  # the background tick agrees: nothing to do
    finally:
        monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", real_cmd)
        ocr.reset_engine_status()
    if not ocr.engine_status(max_age=0)[0]:
        pytest.skip("tesseract-ocr-fra absent: the retry half cannot run")
    counts = ocr.work_queue()  # the CLI retries at once, ignoring the backoff
    assert counts == {"done": 1}
    db.session.expire_all()
    assert db.session.get(Exhibit, exhibit.id).ocr_status == "done"
    assert db.session.scalar(select(OcrJob)) is None


def test_case_page_says_ocr_is_unavailable(app, db, logged_in, case, volunteer, monkeypatch):
    import pytesseract

    add_exhibit(case, files.screenshot(), "a.png", volunteer)
    db.session.commit()
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr.reset_engine_status()
    try:
        # At once, before the worker has even tried…
        assert "OCR indisponible" in logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
        ocr.work_one()
        # …and after its attempt, from the stored status.
        monkeypatch.undo()
        ocr.reset_engine_status()
        page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
        assert "OCR indisponible" in page and "lecture en cours" not in page
    finally:
        monkeypatch.undo()
        ocr.reset_engine_status()


def test_pdf_text_layer_is_read_without_ocr(app, db, case, volunteer, monkeypatch):
    import pytesseract

    exhibit = add_exhibit(case, files.text_pdf(["Prefecture du Rhone", "Votre demande est incomplete",
                                                "Reference 2025-PREF-0042"]), "courrier.pdf", volunteer).exhibit
    db.session.commit()
    # No Tesseract needed for a PDF that carries its text.
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr.reset_engine_status()
    try:
        assert ocr.work_one().status == "done"
    finally:
        monkeypatch.undo()
        ocr.reset_engine_status()
    db.session.expire_all()
    text = db.session.get(Exhibit, exhibit.id).ocr_text
    assert "Votre demande est incomplete" in text and "2025-PREF-0042" in text


@needs_tesseract
def test_scanned_pdf_is_rendered_and_read(app, db, case, volunteer):
    exhibit = add_exhibit(case, files.scanned_pdf("RDV"), "scan.pdf", volunteer).exhibit
    db.session.commit()
    assert ocr.work_one().status == "done"
    db.session.expire_all()
    assert "aucun rendez-vous" in db.session.get(Exhibit, exhibit.id).ocr_text.lower()


def test_a_damaged_stored_file_fails_after_retries_without_blocking_the_queue(app, db, case, volunteer):
    import os

    from app.evidence.storage import store

    bad = add_exhibit(case, files.png(color="red"), "a.png", volunteer).exhibit
    db.session.commit()
    path = store().path_for(bad.sha256)
    os.chmod(path, 0o644)
    path.write_bytes(b"plus une image")
    for _ in range(ocr.MAX_FAILURES):
        outcome = ocr.work_one(ignore_schedule=True)
    assert outcome.status == "failed"
    db.session.expire_all()
    assert db.session.get(Exhibit, bad.id).ocr_status == "failed"
    assert db.session.scalar(select(OcrJob)) is None


def test_a_job_claimed_by_another_worker_is_not_taken_twice(app, db, case, volunteer):
    add_exhibit(case, files.png(), "a.png", volunteer)
    db.session.commit()
    job = ocr._claim(ocr.utcnow(), False, set())
    assert job is not None and job.attempts == 1
    assert ocr._claim(ocr.utcnow(), False, set()) is None  # leased for LEASE minutes
