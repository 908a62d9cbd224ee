"""Helpers for the evidence tests: upload through the real form, count rows and stored files."""

from __future__ import annotations

import io
import os

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.evidence.models import Exhibit
from tests.conftest import csrf_token


def exhibit_count(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Exhibit.id)))


def stored_files(app) -> list[str]:
    """Every file under the exhibit folder, temporary ones included."""
    found = []
    for dirpath, _dirs, names in os.walk(app.config["EXHIBIT_DIR"]):
        found.extend(os.path.join(dirpath, n) for n in names)
    return found


def upload(client, case_id: int, *files: tuple[bytes, str], **fields):
    """POST the case page's upload form, with the CSRF token taken from the case page."""
    data = MultiDict({"csrf_token": csrf_token(client, f"/cases/{case_id}"), **fields})
    for content, name in files:
        data.add("file", FileStorage(io.BytesIO(content), filename=name))
    # Encoded in memory: the test client spools large bodies to a temporary file it never closes.
    boundary, body = encode_multipart(data)
    return client.post(f"/cases/{case_id}/exhibits", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")
