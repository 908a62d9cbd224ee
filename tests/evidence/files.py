"""Builders for test files: valid images, PDFs, e-mails, and the hostile corpus of issue 3."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from app.evidence.screenshots import MESSAGES, anef_screenshot


def png(width: int = 64, height: int = 48, color: str = "steelblue") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48, taken: str | None = None, color: str = "olive") -> bytes:
    """A JPEG, with an EXIF DateTimeOriginal when `taken` ("2025:03:01 10:15:00") is given."""
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), color)
    if taken:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[36867] = taken
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, "WEBP")
    return out.getvalue()


def heic() -> bytes:
    import app.evidence.sniff  # noqa: F401 - registers the HEIF plugin

    out = io.BytesIO()
    Image.new("RGB", (64, 48), "purple").save(out, "HEIF")
    return out.getvalue()


def screenshot(code: str = "DEP-ERREUR", extra: str = "") -> bytes:
    title, message = MESSAGES[code]
    return anef_screenshot(title, message, details=[extra] if extra else None)


def text_pdf(lines: list[str]) -> bytes:
    """A minimal, valid one-page PDF whose text layer holds `lines` (Helvetica, WinAnsi)."""
    content = "BT /F1 14 Tf 60 780 Td 18 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for line in lines) + " ET"
    stream = content.encode("cp1252")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def scanned_pdf(code: str = "RDV") -> bytes:
    """A PDF holding only a picture of text (as a scanner makes), no text layer."""
    image = Image.open(io.BytesIO(screenshot(code)))
    out = io.BytesIO()
    image.convert("RGB").save(out, "PDF", resolution=150)
    return out.getvalue()


def eml() -> bytes:
    return ("From: CCC ANTS <ne-pas-repondre@example.org>\r\nTo: permanence@example.org\r\n"
            "Subject: =?utf-8?q?Votre_demande_n=C2=B0_2025-CCC-123456?=\r\nDate: Mon, 3 Mar 2025 10:00:00 +0100\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Bonjour, votre signalement a été transmis au service compétent. Nous ne pouvons pas intervenir "
            "sur votre dossier.\r\n").encode()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated_png() -> bytes:
    out = io.BytesIO()
    # Noise does not compress: the cut lands in the middle of the pixel data.
    Image.effect_noise((200, 200), 60).convert("RGB").save(out, "PNG")
    data = out.getvalue()
    return data[: len(data) // 2]


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00" + (
    b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 64 + b"PE\x00\x00")
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100
HTML = b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n"
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>\n')
SVG_BARE = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="5" height="5"/></svg>'
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40


def pdf_html_polyglot() -> bytes:
    """Starts as a PDF, carries an HTML page that a sniffing browser would run."""
    pdf = text_pdf(["Attestation"])
    return pdf.replace(b"%PDF-1.4\n", b"%PDF-1.4\n%<html><body><script>alert(1)</script></body></html>\n", 1)


def html_pdf_polyglot() -> bytes:
    """Starts as an HTML page, with a PDF after it (browsers render the HTML)."""
    return b"<html><script>alert(1)</script><!--\n" + text_pdf(["Attestation"]) + b"\n--></html>"
