"""Helpers for the export tests: distinct screenshots, exhibits, reading .docx/.xlsx back, LibreOffice."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from app.extensions import db


def screenshot(seed: int, size: tuple[int, int] = (1280, 800)) -> bytes:
    """A distinct PNG (python-docx stores identical images once: tests need different bytes)."""
    image = Image.new("RGB", size, (240, 240 - seed % 50, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 40, size[0] - 40, 140], fill=(31, 78, 121))
    draw.text((60, 80), f"ANEF - une erreur technique est survenue - capture {seed}", fill=(255, 255, 255))
    for i in range(12):
        draw.line([(60, 180 + i * 40), (60 + (seed * 37 + i * 91) % (size[0] - 120), 180 + i * 40)],
                  fill=(seed % 255, 80, 120), width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def add_exhibit(case, content: bytes, filename: str, actor=None, *, description: str = "",
                captured_at: datetime | None = None, event_id: int | None = None):
    """An exhibit through the evidence service (its checks, its store), committed."""
    try:
        from app.evidence.services import add_exhibit as add
    except ImportError:  # pragma: no cover - before the evidence service landed
        return _insert_exhibit(case, content, filename, description, captured_at, event_id)
    result = add(case, content, filename, actor, description=description, captured_at=captured_at,
                 event_id=event_id)
    db.session.commit()
    return result.exhibit


def _insert_exhibit(case, content, filename, description, captured_at, event_id):
    from flask import current_app
    from sqlalchemy import func, select

    from app.evidence.models import Exhibit

    sha = hashlib.sha256(content).hexdigest()
    path = Path(current_app.config["EXHIBIT_DIR"]) / sha[:2] / sha[2:4] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    number = (db.session.scalar(select(func.max(Exhibit.number)).where(Exhibit.case_id == case.id)) or 0) + 1
    ext = filename.rsplit(".", 1)[-1].lower()
    mime = {"png": "image/png", "jpg": "image/jpeg", "pdf": "application/pdf"}.get(ext, "application/octet-stream")
    exhibit = Exhibit(case_id=case.id, number=number, sha256=sha, size=len(content), mime=mime, extension=ext,
                      original_name=filename, description=description, captured_at=captured_at, event_id=event_id)
    db.session.add(exhibit)
    db.session.commit()
    return exhibit


def exhibit_path(app, sha256: str) -> Path:
    return Path(app.config["EXHIBIT_DIR"]) / sha256[:2] / sha256[2:4] / sha256


def docx_text(content: bytes) -> str:
    """All the text of a .docx: body paragraphs, tables, headers and footers."""
    from docx import Document

    document = Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    for section in document.sections:
        parts.extend(p.text for p in section.header.paragraphs)
        parts.extend(p.text for p in section.footer.paragraphs)
    return "\n".join(parts)


def xlsx_cells(content: bytes) -> dict[str, list[list]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content))
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}


def zip_names(content: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return archive.namelist()


def soffice_or_skip() -> str:
    """LibreOffice's binary; its absence fails the test on CI and skips it elsewhere."""
    binary = shutil.which("soffice") or shutil.which("libreoffice")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) est requis sur CI pour valider les exports.")
        pytest.skip("LibreOffice absent : conversion PDF non testée ici.")
    return binary


def convert_to_pdf(files: list[Path], outdir: Path) -> list[Path]:
    """Convert with LibreOffice headless (own profile: parallel runs do not collide); the PDFs."""
    binary = soffice_or_skip()
    profile = outdir / "lo-profile"
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([binary, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(outdir), *map(str, files)], check=True, capture_output=True, timeout=300)
    pdfs = [outdir / (f.stem + ".pdf") for f in files]
    for pdf in pdfs:
        assert pdf.is_file() and pdf.stat().st_size > 1000, f"LibreOffice n'a pas converti {pdf.name}"
        assert pdf.read_bytes().startswith(b"%PDF")
    return pdfs
