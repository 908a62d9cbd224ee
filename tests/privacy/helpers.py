"""Test helpers for privacy and backups: real exhibit files in the content-addressed store."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image
from sqlalchemy import func, select

from app.core.clock import utcnow
from app.evidence.models import Exhibit
from app.evidence.storage import store
from app.extensions import db


def png_bytes(seed: int) -> bytes:
    """A small real PNG, different for each seed."""
    image = Image.new("RGB", (32, 24), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def exhibit(case, data: bytes, *, name: str = "capture-anef.png", description: str = "",
            ocr_text: str = "", added_at: datetime | None = None, commit: bool = True) -> Exhibit:
    """Store the bytes (file first, as the evidence service does) and record the exhibit row."""
    sha256, size = store().put(data)
    number = (db.session.scalar(select(func.max(Exhibit.number)).where(Exhibit.case_id == case.id)) or 0) + 1
    row = Exhibit(case_id=case.id, number=number, sha256=sha256, size=size, mime="image/png", extension="png",
                  original_name=name, description=description, added_at=added_at or utcnow(),
                  withdrawn_reason="", ocr_status="done", ocr_text=ocr_text)
    db.session.add(row)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return row
