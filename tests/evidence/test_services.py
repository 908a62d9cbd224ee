"""The evidence services without HTTP: add, duplicates, numbering, custody, withdraw, renumber, verify."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, datetime

import pytest
from sqlalchemy import event as sa_event, select

from app.audit.models import AuditRecord
from app.evidence import services
from app.evidence.models import Exhibit, OcrJob
from app.evidence.services import ExhibitRefused, add_exhibit
from app.evidence.storage import store
from app.search.models import IndexOutbox
from tests import factories
from tests.evidence import files
from tests.evidence.helpers import exhibit_count, stored_files


def actions(exhibit) -> list[str]:
    return [c.action for c in services.custody_of(exhibit)]


def test_add_records_everything_about_the_file(db, case, volunteer):
    result = add_exhibit(case, files.screenshot(), "erreur.png", volunteer, description="Erreur au paiement",
                         captured_at="2025-03-01")
    # Search is asked to re-index the case in the same transaction (the outbox is drained on commit).
    assert db.session.scalar(select(IndexOutbox).where(IndexOutbox.case_id == case.id)) is not None
    db.session.commit()
    exhibit = result.exhibit
    assert not result.duplicate
    assert (exhibit.number, exhibit.mime, exhibit.extension, exhibit.original_name) == (1, "image/png", "png", "erreur.png")
    assert exhibit.size == len(files.screenshot())
    assert exhibit.captured_at == datetime(2025, 3, 1)
    assert exhibit.added_by_id == volunteer.id
    assert exhibit.ocr_status == "pending"
    assert store().path_for(exhibit.sha256).read_bytes() == files.screenshot()
    assert actions(exhibit) == ["added"]
    assert db.session.scalar(select(OcrJob).where(OcrJob.exhibit_id == exhibit.id)) is not None
    audit = db.session.scalar(select(AuditRecord).where(AuditRecord.action == "exhibit.add"))
    assert "erreur.png" not in audit.detail and "paiement" not in audit.detail  # no user-typed text in the journal


def test_same_bytes_twice_in_a_case_give_one_exhibit(db, org, case, volunteer):
    first = add_exhibit(case, files.png(), "a.png", volunteer)
    again = add_exhibit(case, files.png(), "copie.png", volunteer)
    assert again.duplicate and again.exhibit.id == first.exhibit.id
    # Another case may hold the same bytes: one file on disk, two exhibits.
    other = factories.case(org, volunteer)
    elsewhere = add_exhibit(other, files.png(), "a.png", volunteer)
    db.session.commit()
    assert not elsewhere.duplicate and elsewhere.exhibit.number == 1
    assert exhibit_count(db) == 2
    assert len(list(store().iter_files())) == 1


def test_numbers_follow_and_are_never_reused_after_a_withdrawal(db, case, volunteer, lawyer):
    one, two, three = (add_exhibit(case, files.png(color=c), f"{c}.png", volunteer).exhibit
                       for c in ("red", "green", "blue"))
    assert [one.number, two.number, three.number] == [1, 2, 3]
    services.withdraw_exhibit(three, "Doublon d'une autre capture", lawyer)
    four = add_exhibit(case, files.png(color="white"), "w.png", volunteer).exhibit
    assert four.number == 4
    assert [e.number for e in services.active_exhibits(case)] == [1, 2, 4]
    assert actions(three) == ["added", "withdrawn"]
    assert store().exists(three.sha256)  # soft delete: the original stays


def test_withdrawn_bytes_added_again_are_refused_with_the_reason(db, case, volunteer, lawyer):
    exhibit = add_exhibit(case, files.png(), "a.png", volunteer).exhibit
    services.withdraw_exhibit(exhibit, "Erreur de dossier", lawyer)
    with pytest.raises(ExhibitRefused, match="retiré"):
        add_exhibit(case, files.png(), "a.png", volunteer)


def test_withdraw_needs_a_reason(db, case, volunteer, lawyer):
    exhibit = add_exhibit(case, files.png(), "a.png", volunteer).exhibit
    with pytest.raises(ExhibitRefused, match="pourquoi"):
        services.withdraw_exhibit(exhibit, "   ", lawyer)
    assert exhibit.withdrawn_at is None


def test_renumber_reorders_and_logs_each_change(db, case, volunteer, lawyer):
    a, b, c = (add_exhibit(case, files.png(color=x), f"{x}.png", volunteer).exhibit for x in ("red", "lime", "navy"))
    order = services.order_from_positions(case, {c.id: "1"})
    assert order == [c.id, a.id, b.id]
    assert services.renumber(case, order, lawyer) == 3
    db.session.commit()
    assert [(e.id, e.number) for e in services.active_exhibits(case)] == [(c.id, 1), (a.id, 2), (b.id, 3)]
    assert services.custody_of(c)[-1].detail == "pièce n° 3 → n° 1"
    with pytest.raises(ExhibitRefused):
        services.renumber(case, [a.id, a.id, b.id], lawyer)
    with pytest.raises(ExhibitRefused):
        services.renumber(case, [a.id, b.id], lawyer)


def test_event_must_belong_to_the_case(db, org, case, volunteer):
    mine = factories.event(case, "ERREUR")
    other_case = factories.case(org, volunteer)
    theirs = factories.event(other_case, "ERREUR")
    with pytest.raises(ExhibitRefused, match="Événement"):
        add_exhibit(case, files.png(), "a.png", volunteer, event_id=theirs.id)
    exhibit = add_exhibit(case, files.png(), "a.png", volunteer, event_id=str(mine.id)).exhibit
    assert exhibit.event_id == mine.id


def test_capture_date_given_or_from_exif(db, case, volunteer):
    photo = add_exhibit(case, files.jpeg(taken="2025:02:14 09:30:00"), "photo.jpg", volunteer).exhibit
    assert photo.captured_at == datetime(2025, 2, 14, 9, 30)
    given = add_exhibit(case, files.jpeg(taken="2025:02:14 09:30:00", color="red"), "p.jpg", volunteer,
                        captured_at=date(2025, 2, 20)).exhibit
    assert given.captured_at == datetime(2025, 2, 20)
    assert add_exhibit(case, files.png(), "a.png", volunteer, captured_at="14/02/2025").exhibit.captured_at == \
        datetime(2025, 2, 14)
    with pytest.raises(ExhibitRefused, match="futur"):
        add_exhibit(case, files.webp(), "w.webp", volunteer, captured_at="2999-01-01")
    with pytest.raises(ExhibitRefused, match="illisible"):
        add_exhibit(case, files.webp(), "w.webp", volunteer, captured_at="hier")


def test_text_and_email_need_no_ocr(db, case, volunteer):
    note = add_exhibit(case, "Ticket CCC 2025-CCC-654321".encode(), "ticket.txt", volunteer).exhibit
    mail = add_exhibit(case, files.eml(), "ccc.eml", volunteer).exhibit
    assert (note.ocr_status, note.ocr_text) == ("done", "Ticket CCC 2025-CCC-654321")
    assert mail.ocr_status == "done" and "service compétent" in mail.ocr_text
    assert db.session.scalar(select(OcrJob)) is None


def test_custody_actions_are_checked(db, case, volunteer):
    exhibit = add_exhibit(case, files.png(), "a.png", volunteer).exhibit
    services.record_custody(exhibit, "exported", volunteer, detail="mémoire en référé")
    with pytest.raises(ValueError):
        services.record_custody(exhibit, "edited", volunteer)
    assert actions(exhibit) == ["added", "exported"]


# --- a row never exists without its file ------------------------------------------------------

def test_the_file_is_on_disk_before_the_row_is_flushed(db, case, volunteer):
    seen = []

    def check(session, flush_context, instances):
        for obj in session.new:
            if isinstance(obj, Exhibit):
                seen.append(store().exists(obj.sha256))

    sa_event.listen(db.session, "before_flush", check)
    try:
        add_exhibit(case, files.png(), "a.png", volunteer)
    finally:
        sa_event.remove(db.session, "before_flush", check)
    assert seen == [True]


def test_a_failed_write_leaves_no_row(app, db, case, volunteer, monkeypatch):
    def full_disk(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(store()), "put", full_disk)
    with pytest.raises(ExhibitRefused, match="disque plein"):  # a French reason, not a 500
        add_exhibit(case, files.png(), "a.png", volunteer)
    db.session.rollback()
    assert exhibit_count(db) == 0


def test_a_process_killed_before_commit_leaves_an_orphan_that_verify_finds(app, db, case):
    """A real process adds an exhibit and is killed (SIGKILL) before its commit."""
    script = textwrap.dedent(f"""
        import os, signal
        from app import create_app
        from app.config import Config
        from app.cases.models import Case
        from app.evidence.services import add_exhibit
        from app.extensions import db
        app = create_app(Config(DATA_DIR={str(app.config['DATA_DIR'])!r}, SECRET_KEY="t", START_WORKERS=False,
                                SQLALCHEMY_DATABASE_URI={app.config['SQLALCHEMY_DATABASE_URI']!r}))
        with app.app_context():
            case = db.session.get(Case, {case.id})
            add_exhibit(case, b"Capture jamais enregistree", "capture.txt", None)
            db.session.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    assert exhibit_count(db) == 0
    assert len(stored_files(app)) == 1
    report = services.verify_all()
    assert [p.kind for p in report.problems()] == ["orphan"]
    assert not report.ok


# --- verify --------------------------------------------------------------------------------

def test_verify_passes_on_intact_data_and_names_each_problem(app, db, case, volunteer):
    kept = add_exhibit(case, files.png(color="red"), "a.png", volunteer).exhibit
    flipped = add_exhibit(case, files.png(color="green"), "b.png", volunteer).exhibit
    lost = add_exhibit(case, files.png(color="blue"), "c.png", volunteer).exhibit
    db.session.commit()
    report = services.verify_all()
    assert report.ok and report.checked == 3 and report.bytes == kept.size + flipped.size + lost.size

    path = store().path_for(flipped.sha256)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    path.write_bytes(bytes(data))
    store().path_for(lost.sha256).unlink()
    orphan_sha, _ = store().put(b"sans ligne")

    report = services.verify_all()
    assert not report.ok
    assert [(p.sha256, p.exhibits) for p in report.altered] == [(flipped.sha256, [(case.reference, 2)])]
    assert [(p.sha256, p.exhibits) for p in report.missing] == [(lost.sha256, [(case.reference, 3)])]
    assert [p.sha256 for p in report.orphans] == [orphan_sha]
