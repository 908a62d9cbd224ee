"""Demo screenshots: most demo cases get distinct ANEF error captures, queued for OCR, quickly."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy import func, select

from app.core import hooks
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
    assert all(e.mime == "image/png" and e.captured_at is not None for e in exhibits)
    assert db.session.scalar(select(func.count(OcrJob.id))) == len(exhibits)  # read later, not in the seed
    assert elapsed < 0.2 * len(exhibits) + 1
