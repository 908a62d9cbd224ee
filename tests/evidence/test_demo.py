"""Demo pièces: most demo cases get distinct ANEF error captures, queued for OCR, quickly; some get a
pièce for every fact, each with its nature."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import func, select

from app.core import hooks
from app.evidence import demo
from app.evidence.demo import seed_demo_exhibits
from app.evidence.models import Exhibit, OcrJob
from tests import factories


def test_the_hook_is_connected(app):
    assert seed_demo_exhibits in hooks._HOOKS["demo_seeded"]


def test_demo_cases_get_distinct_screenshots_queued_for_ocr(app, db, org, volunteer):
    cases = [factories.case(org, volunteer, blocages=[code]) for code in
             ("DEP-ERREUR", "RDV", "API-ABS", "ACC-AUTH", "CLOS", "DEP-ERREUR", "NUM", "CARTE", "SUBST", "RDV")]
    for case in cases[:5]:
        factories.event(case, "ERREUR")
    started = time.perf_counter()
    added = seed_demo_exhibits(org=org, users={"volunteer": volunteer}, today=date(2025, 6, 1))
    db.session.commit()
    elapsed = time.perf_counter() - started
    exhibits = db.session.scalars(select(Exhibit)).all()
    assert added == len(exhibits) >= 5
    assert len({e.case_id for e in exhibits}) >= len(cases) // 2
    assert len({e.sha256 for e in exhibits}) == len(exhibits)  # distinct bytes, so distinct images in briefs
    assert all(e.mime == "image/png" for e in exhibits)
    assert all(e.captured_at is not None for e in exhibits if e.nature != "PASSEPORT")
    assert {e.nature for e in exhibits} <= {"CAPTURE", "PASSEPORT"}
    assert all(e.nature == "CAPTURE" for e in exhibits if e.original_name.startswith("capture-anef"))
    assert db.session.scalar(select(func.count(OcrJob.id))) == len(exhibits)  # read later, not in the seed
    assert elapsed < 0.2 * len(exhibits) + 1


def test_well_documented_cases_get_a_piece_for_every_fact(app, db, org, volunteer, monkeypatch):
    monkeypatch.setattr(demo, "WELL_DOCUMENTED", 1.0)
    case = factories.case(org, volunteer, blocages=["ACC-AUTH"])
    attempt = factories.event(case, "TENTATIVE", date(2025, 3, 3))
    factories.event(case, "ERREUR", date(2025, 3, 3))
    alone = factories.event(case, "TENTATIVE", date(2025, 3, 12))
    lrar = factories.event(case, "PREF", date(2025, 3, 20), reference="1A 123 456 7890 1")
    mail = factories.event(case, "PREF", date(2025, 3, 21))
    factories.event(case, "REFERE", date(2025, 4, 2), reference="2501234", outcome="L521-3")
    order = factories.event(case, "ORDONNANCE", date(2025, 4, 20), reference="2501234", outcome="INJONCTION")
    job = factories.event(case, "EMPLOI", date(2025, 4, 25))
    added = seed_demo_exhibits(org=org, users={"volunteer": volunteer}, today=date(2025, 4, 26))
    db.session.commit()
    exhibits = db.session.scalars(select(Exhibit).order_by(Exhibit.number)).all()
    assert added == len(exhibits) == 7
    by_event = {e.event_id: e for e in exhibits}
    # A failed attempt and its error share the day: one capture, attached to neither, proves both.
    day_one = [e for e in exhibits if e.event_id is None and e.nature == "CAPTURE"]
    assert len(day_one) == 1 and day_one[0].captured_at.date() == attempt.date
    assert by_event[alone.id].nature == "CAPTURE"
    assert by_event[lrar.id].nature == "ACCUSE-LRAR" and "1A 123 456 7890 1" in by_event[lrar.id].description
    assert by_event[mail.id].nature == "COURRIEL"
    assert by_event[order.id].nature == "ORDONNANCE" and "2501234" in by_event[order.id].description
    assert by_event[job.id].nature == "EMPLOI"
    assert by_event[job.id].captured_at.date() <= date(2025, 4, 26)  # never photographed after today
    assert [e.nature for e in exhibits if e.event_id is None and e.nature != "CAPTURE"] == ["PASSEPORT"]
    assert len({e.sha256 for e in exhibits}) == len(exhibits)
