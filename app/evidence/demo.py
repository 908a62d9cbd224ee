"""Demo exhibits: generated ANEF error screenshots attached to most demo cases (OCR left to the queue)."""

from __future__ import annotations

import random
from datetime import datetime, time

from sqlalchemy import select

from app.cases.models import Case
from app.evidence.screenshots import MESSAGES, anef_screenshot
from app.evidence.services import add_exhibit

SHARE = 0.7  # of demo cases that get screenshots


def seed_demo_exhibits(org, users, today, **_ignored) -> int:
    """Attach one or two distinct screenshots to about 70 % of the association's cases; returns how many."""
    rng = random.Random(f"exhibits-{org.slug}")  # noqa: S311 - deterministic demo data
    actor = users.get("volunteer")
    cases = list(db_cases(org.id))
    added = 0
    for case in cases:
        if rng.random() > SHARE:
            continue
        errors = [e for e in case.events if e.type in ("ERREUR", "TENTATIVE")] or list(case.events)
        code = case.blocages[0] if case.blocages and case.blocages[0] in MESSAGES else "DEP-ERREUR"
        title, message = MESSAGES[code]
        for i in range(rng.choice((1, 1, 2))):
            event = errors[i] if i < len(errors) else None
            day = event.date if event else case.opened_on
            shot_at = datetime.combine(day, time(rng.randint(9, 18), rng.randint(0, 59)))
            details = [f"Référence de la demande : {case.anef_number or 'non attribuée'}",
                       f"Date : {shot_at.strftime('%d/%m/%Y à %H:%M')}",
                       f"Code erreur : ANEF-{rng.randint(1000, 9999)}"]
            png = anef_screenshot(title, message, details=details,
                                  footer=f"Capture d'écran · tentative n° {i + 1}")
            add_exhibit(case, png, f"capture-anef-{day.isoformat()}-{i + 1}.png", actor,
                        description=f"Capture d'écran de l'ANEF : « {title} »"
                                    + (" (nouvelle tentative)" if i else ""),
                        captured_at=shot_at, event_id=event.id if event else None)
            added += 1
    return added


def db_cases(org_id: int):
    from sqlalchemy.orm import selectinload

    from app.extensions import db

    return db.session.scalars(select(Case).where(Case.org_id == org_id)
                              .options(selectinload(Case.events), selectinload(Case.codes))
                              .order_by(Case.id))

