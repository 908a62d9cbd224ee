"""The hostile corpus of issue 3, through the real upload form: each file is refused in French and
nothing is stored, or (a hostile name on valid content) stored under a clean name, never as a path."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.evidence.models import Exhibit
from tests.evidence import files
from tests.evidence.helpers import exhibit_count, stored_files, upload

CORPUS = [
    pytest.param(files.EXE, "capture.png", "programme exécutable", id="exe-renamed-png"),
    pytest.param(files.ELF, "capture.png", "programme exécutable", id="elf-renamed-png"),
    pytest.param(files.HTML, "photo.jpg", "pages web", id="html-renamed-jpg"),
    pytest.param(files.SVG, "logo.svg", "SVG", id="svg-with-script"),
    pytest.param(files.SVG, "logo.png", "SVG", id="svg-renamed-png"),
    pytest.param(files.SVG_BARE, "image.svg", "SVG", id="svg-onload"),
    pytest.param(files.pdf_html_polyglot(), "attestation.pdf", "polyglotte", id="pdf-html-polyglot"),
    pytest.param(files.html_pdf_polyglot(), "attestation.pdf", "pages web", id="html-pdf-polyglot"),
    pytest.param(files.truncated_png(), "capture.png", "tronquée", id="truncated-png"),
    pytest.param(files.png_header_claiming(60_000, 60_000), "capture.png", "démesurément grande", id="png-60000x60000"),
    pytest.param(files.png_header_claiming(12_000, 12_000), "capture.png", "millions de pixels", id="png-144-megapixels"),
    pytest.param(b"", "vide.png", "vide", id="empty-file"),
    pytest.param(files.ZIP, "pieces.zip", "archives", id="zip-archive"),
    pytest.param(files.png(), "capture.jpg", "ne correspond pas", id="png-named-jpg"),
    pytest.param(files.png(), "photo\u202egnp.exe", "ne correspond pas", id="rtl-override-hiding-exe"),
    pytest.param(b"MZ" + files.png(), "capture.png", "programme exécutable", id="mz-prefixed"),
    pytest.param(b"\x00\x01\x02binary", "notes.txt", "binaire", id="binary-as-text"),
    pytest.param(b"<html><body>bonjour</body></html>", "notes.txt", "pages web", id="html-as-text"),
    pytest.param(b"Subject: rien\r\n\r\n<script>alert(1)</script>", "courriel.txt", "pages web", id="eml-html-as-txt"),
    pytest.param(b"juste du texte sans en-tete", "courriel.eml", "courriel lisible", id="eml-without-headers"),
]


@pytest.mark.parametrize(("content", "name", "reason"), CORPUS)
def test_hostile_file_is_refused_and_nothing_stored(app, db, logged_in, case, content, name, reason):
    before = exhibit_count(db)
    response = upload(logged_in, case.id, (content, name), description="pièce piégée")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Rien n'a été enregistré" in page
    assert reason in page
    assert "pièce piégée" in page  # what was typed is offered again
    assert exhibit_count(db) == before
    assert stored_files(app) == []


def test_one_byte_over_the_limit_answers_413_in_french(app, db, logged_in, case):
    limit = app.config["MAX_EXHIBIT_BYTES"]
    padded = files.png() + b"\x00" * (limit + 1 - len(files.png()))
    assert len(padded) == limit + 1 < app.config["MAX_CONTENT_LENGTH"]
    response = upload(logged_in, case.id, (files.png(color="red"), "ok.png"), (padded, "grosse.png"))
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.get_data(as_text=True)
    # The valid file sent alongside is not stored either: the limit is checked before anything.
    assert exhibit_count(db) == 0
    assert stored_files(app) == []


def test_exactly_at_the_limit_is_accepted(app, db, logged_in, case):
    app.config["MAX_EXHIBIT_BYTES"] = 200_000
    content = files.png() + b"\x00" * (200_000 - len(files.png()))  # trailing bytes after IEND are legal
    response = upload(logged_in, case.id, (content, "juste.png"))
    assert response.status_code == 302
    assert exhibit_count(db) == 1
    response = upload(logged_in, case.id, (content + b"\x00", "trop.png"))
    assert response.status_code == 413
    assert exhibit_count(db) == 1


HOSTILE_NAMES = [
    pytest.param("../../../etc/passwd.png", "passwd.png", id="dot-dot-slash"),
    pytest.param("/tmp/absolute.png", "absolute.png", id="absolute-path"),
    pytest.param("cap\x00ture.png", "capture.png", id="nul"),
    pytest.param("\u202eevil.png", "evil.png", id="rtl-override"),
    pytest.param("a\u200bb\u2066c.png", "abc.png", id="zero-width-and-isolate"),
    pytest.param("x" * 300 + ".png", "x" * 146 + ".png", id="300-characters"),
    pytest.param("...png", "png", id="only-dots"),
    pytest.param("\x00\u202e", "fichier", id="nothing-left"),
]


@pytest.mark.parametrize(("hostile", "clean"), HOSTILE_NAMES)
def test_hostile_name_on_valid_content_is_stored_under_a_clean_name(app, db, logged_in, case, hostile, clean):
    content = files.png(color="#%06x" % (abs(hash(hostile)) % 0xFFFFFF))
    response = upload(logged_in, case.id, (content, hostile))
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    exhibit = db.session.scalar(select(Exhibit))
    assert exhibit.original_name == clean
    assert len(exhibit.original_name) <= 150
    # The only file written is named by its digest, inside the store: the name never became a path.
    (path,) = stored_files(app)
    assert re.fullmatch(r"[0-9a-f]{64}", path.rsplit("/", 1)[-1])
    assert path.startswith(str(app.config["EXHIBIT_DIR"]))
    assert path.endswith(f"{exhibit.sha256[:2]}/{exhibit.sha256[2:4]}/{exhibit.sha256}")
