"""Type sniffing and filename cleaning, without HTTP."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.evidence import sniff
from tests.evidence import files

LIMIT = 20 * 1024 * 1024

ACCEPTED = [
    pytest.param(files.png(), "capture.png", "image/png", "png", id="png"),
    pytest.param(files.png(), "CAPTURE.PNG", "image/png", "png", id="png-upper-case"),
    pytest.param(files.jpeg(), "photo.jpeg", "image/jpeg", "jpeg", id="jpeg"),
    pytest.param(files.jpeg(), "photo.jpg", "image/jpeg", "jpg", id="jpg"),
    pytest.param(files.webp(), "capture.webp", "image/webp", "webp", id="webp"),
    pytest.param(files.heic(), "IMG_0001.HEIC", "image/heic", "heic", id="heic"),
    pytest.param(files.text_pdf(["Bonjour"]), "courrier.pdf", "application/pdf", "pdf", id="pdf"),
    pytest.param(files.scanned_pdf(), "scan.pdf", "application/pdf", "pdf", id="scanned-pdf"),
    pytest.param("Ticket CCC n° 2025-CCC-123456".encode(), "notes.txt", "text/plain", "txt", id="text-utf8"),
    pytest.param("Réponse du CCC".encode("cp1252"), "notes.txt", "text/plain", "txt", id="text-cp1252"),
    pytest.param(files.eml(), "reponse-ccc.eml", "message/rfc822", "eml", id="eml"),
    pytest.param(files.png(), "sans-extension", "image/png", "png", id="no-extension"),
]


@pytest.mark.parametrize(("content", "name", "mime", "extension"), ACCEPTED)
def test_accepted_types(content, name, mime, extension):
    result = sniff.inspect(content, name, max_bytes=LIMIT)
    assert (result.mime, result.extension) == (mime, extension)


def test_text_and_email_are_readable_at_once():
    assert sniff.inspect("Réponse du CCC".encode("cp1252"), "n.txt", max_bytes=LIMIT).text == "Réponse du CCC"
    text = sniff.inspect(files.eml(), "m.eml", max_bytes=LIMIT).text
    assert "Objet : Votre demande n° 2025-CCC-123456" in text
    assert "transmis au service compétent" in text


def test_exif_date_of_a_photo_is_read():
    result = sniff.inspect(files.jpeg(taken="2025:03:01 10:15:00"), "photo.jpg", max_bytes=LIMIT)
    assert result.exif_taken_at == datetime(2025, 3, 1, 10, 15)
    assert sniff.inspect(files.jpeg(), "photo.jpg", max_bytes=LIMIT).exif_taken_at is None


def test_size_limit_is_checked_by_the_service_too():
    with pytest.raises(sniff.Refused, match="taille maximale"):
        sniff.inspect(files.png() + b"\x00" * 100, "a.png", max_bytes=len(files.png()) + 99)


def test_png_without_its_end_chunk_is_truncated():
    with pytest.raises(sniff.Refused, match="tronquée"):
        sniff.inspect(files.png()[:-12], "a.png", max_bytes=LIMIT)


@pytest.mark.parametrize(("raw", "clean"), [
    ("capture.png", "capture.png"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\Awa\\Desktop\\erreur anef.png", "erreur anef.png"),
    ("a\r\nContent-Type: text\\html.png", "html.png"),
    ("ligne\r\nsuivante.png", "lignesuivante.png"),
    ("nul\x00byte.png", "nulbyte.png"),
    ("\u202eevil.png", "evil.png"),
    ("rapport\u202efdp.exe", "rapportfdp.exe"),
    ("  .hidden.png  ", "hidden.png"),
    ("e\u0301te\u0301.png", "été.png"),  # decomposed accents are composed (NFC)
    ("", "fichier"),
    (None, "fichier"),
])
def test_clean_filename(raw, clean):
    assert sniff.clean_filename(raw) == clean


def test_long_names_keep_their_extension():
    cleaned = sniff.clean_filename("é" * 400 + ".jpeg")
    assert len(cleaned) == sniff.NAME_LIMIT
    assert cleaned.endswith(".jpeg")
