"""A separate process that keeps writing cases, events and exhibits until told to stop.

Run as `python -m tests.backup.writer SLUG STOP_FILE` with DATA_DIR and DATABASE_URL set;
prints the number of committed cases and the time after each commit, so the test can follow it.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select

from app import create_app
from app.auth.models import Organisation
from app.cases.services import CaseInput, EventInput, add_event, create_case
from app.core.clock import utcnow
from app.evidence.models import Exhibit
from app.evidence.storage import store
from app.extensions import db


def main(slug: str, stop_file: str, limit: int = 5000) -> None:
    app = create_app()
    with app.app_context():
        org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
        for number in range(1, limit + 1):
            if Path(stop_file).exists():
                break
            case = create_case(org, CaseInput(prefecture="69", demarche="RENOUV", status="OUVERT",
                                              blocages=["API-ABS"], last_name=f"Écrivain{number}",
                                              first_name="Test", narrative=f"Récit {number}"), None)
            add_event(case, EventInput(date(2025, 3, 1), "TENTATIVE", f"Tentative {number}"), None)
            # As the evidence service does: the file first, then the row, in the case's transaction.
            data = f"pièce {number} ".encode() * 200
            sha256, size = store().put(data)
            db.session.add(Exhibit(case_id=case.id, number=1, sha256=sha256, size=size, mime="text/plain",
                                   extension="txt", original_name=f"piece-{number}.txt", added_at=utcnow(),
                                   withdrawn_reason="", ocr_status="none"))
            db.session.commit()
            print(number, time.time(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
