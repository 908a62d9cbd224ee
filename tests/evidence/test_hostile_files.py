"""Hostile files (issue 16): an image whose decoded size would exhaust memory is refused from
its header, fast and small; PDFs that carry JavaScript or launch a program are refused with a
French reason; orphan files are removed on request, audited."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pikepdf
import pytest
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.evidence import sniff
from app.evidence.models import Exhibit
from tests.conftest import login
from tests.evidence.files import png, text_pdf
from tests.evidence.helpers import exhibit_count, upload

ROOT = Path(__file__).resolve().parents[2]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@pytest.fixture(scope="session")
def rgba_bomb(tmp_path_factory) -> Path:
    """The review's file: a complete, valid PNG of 10,900 × 10,900 transparent RGBA pixels whose
    zlib stream (all zeros) weighs about 462 KB; 475 MB once decoded."""
    side = 10_900
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + side * 4)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    path = tmp_path_factory.mktemp("bomb") / "bombe.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path


def test_rgba_bomb_refused_under_a_second_and_300_mb(rgba_bomb):
    size = rgba_bomb.stat().st_size
    assert 400_000 < size < 600_000 and side_by_side(rgba_bomb) == (10_900, 10_900)
    # A fresh process, so its peak memory is the check's own (plus the interpreter and the app).
    script = (
        "import resource, sys, time\n"
        "from app.evidence import sniff\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    sniff.inspect(data, 'bombe.png', max_bytes=20 * 1024 * 1024)\n"
        "    print('ACCEPTED')\n"
        "except sniff.Refused as exc:\n"
        "    print('REFUSED', exc)\n"
        "print('SECONDS', time.perf_counter() - start)\n"
        # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child of a large
        # pytest process would report its parent's peak.
        "print('MAXRSS_KB', next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(rgba_bomb)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=os.environ | {"START_WORKERS": "0"})
    out = done.stdout
    assert "REFUSED" in out and "Mo de mémoire" in out, out + done.stderr
    seconds = float(out.split("SECONDS ")[1].split()[0])
    peak_mb = int(out.split("MAXRSS_KB ")[1].split()[0]) / 1024
    assert seconds < 1.0 and peak_mb < 300, (seconds, peak_mb)


def side_by_side(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_rgba_bomb_upload_answers_fast_in_french(app, db, client, volunteer, case, rgba_bomb):
    login(client, volunteer)
    started = time.perf_counter()
    response = upload(client, case.id, (rgba_bomb.read_bytes(), "bombe.png"))
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 422)
    assert "au-delà de la limite" in response.get_data(as_text=True)
    assert exhibit_count(db) == 0
    assert elapsed < 2.0, elapsed  # was 4 s (and 1.5 GB)


@pytest.mark.parametrize("mode, side, accepted", [
    ("RGBA", 8_000, True),     # 244 MiB decoded: under the limit
    ("RGBA", 8_200, False),    # 256.5 MiB
    ("L", 10_900, True),       # one byte per pixel: 113 MiB
    ("RGB", 8_200, False),     # Pillow keeps RGB in 32 bits too
])
def test_decoded_size_by_mode(mode, side, accepted):
    needed = sniff.decoded_bytes(mode, side, side, "PNG")
    assert (needed <= sniff.MAX_DECODED_BYTES) is accepted, needed


def test_big_jpeg_photos_still_pass_by_draft_scale():
    # A 108 Mpx phone photo is decoded at 1/2 at most (thumbnails, OCR): 103 MiB.
    assert sniff.decoded_bytes("RGB", 12_000, 9_000, "JPEG") < sniff.MAX_DECODED_BYTES
    assert sniff.decoded_bytes("RGB", 12_000, 9_000, "PNG") > sniff.MAX_DECODED_BYTES


# --- PDFs with active content --------------------------------------------------------------------

def _pdf(build, *, object_streams: bool = False) -> bytes:
    pdf = pikepdf.Pdf.open(io.BytesIO(text_pdf(["Courrier de la préfecture"])))
    build(pdf)
    out = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if object_streams else pikepdf.ObjectStreamMode.disable
    pdf.save(out, object_stream_mode=mode, compress_streams=True)
    return out.getvalue()


def _open_action_js(pdf):
    pdf.Root.OpenAction = pikepdf.Dictionary(Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript,
                                             JS=pikepdf.String("app.alert('x')"))


def _names_js(pdf):
    action = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("1")))
    pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), action])))


def _launch_annotation(pdf):
    annot = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=pikepdf.Array([0, 0, 100, 100]),
        A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))))
    pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([annot]))


def _page_additional_action(pdf):
    pdf.pages[0].AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("1")))


@pytest.mark.parametrize("build", [_open_action_js, _names_js, _launch_annotation, _page_additional_action])
@pytest.mark.parametrize("object_streams", [False, True])
def test_pdfs_with_javascript_or_launch_are_refused(build, object_streams):
    data = _pdf(build, object_streams=object_streams)
    with pytest.raises(sniff.Refused, match="JavaScript"):
        sniff.inspect(data, "courrier.pdf", max_bytes=20 * 1024 * 1024)


def test_escaped_names_do_not_hide_an_action():
    data = _pdf(_open_action_js).replace(b"/JavaScript", b"/J#61vaScript")
    assert sniff._raw_active(data)
    with pytest.raises(sniff.Refused):
        sniff.inspect(data, "courrier.pdf", max_bytes=20 * 1024 * 1024)


def test_ordinary_pdfs_pass():
    for data in (text_pdf(["JavaScript et Launch dans le texte ne sont pas des actions"]), _pdf(lambda pdf: None),
                 _pdf(lambda pdf: None, object_streams=True)):
        assert sniff.inspect(data, "courrier.pdf", max_bytes=20 * 1024 * 1024).mime == "application/pdf"


def test_upload_of_an_open_action_pdf_is_refused_in_french(app, db, client, volunteer, case):
    login(client, volunteer)
    response = upload(client, case.id, (_pdf(_open_action_js), "courrier.pdf"))
    assert "Enregistrer au format PDF" in response.get_data(as_text=True)
    assert exhibit_count(db) == 0


# --- orphans -----------------------------------------------------------------------------------

def test_verify_remove_orphans_is_audited_and_spares_recent_files(app, db, volunteer, case):
    from app.evidence.services import add_exhibit
    from app.evidence.storage import store

    add_exhibit(case, png(), "capture.png", volunteer)
    db.session.commit()
    old_sha, _ = store().put(png(color="red"))  # a worker killed between the file and its row
    old_path = store().path_for(old_sha)
    os.utime(old_path, (time.time() - 7200, time.time() - 7200))
    recent_sha, _ = store().put(png(color="green"))  # an upload whose row is not committed yet
    runner = app.test_cli_runner()
    result = runner.invoke(args=["evidence", "verify"])
    assert result.exit_code == 1 and "orphelin" in result.output
    result = runner.invoke(args=["evidence", "verify", "--remove-orphans"])
    assert "1 orphelin(s) supprimé(s)" in result.output, result.output
    assert not old_path.exists() and store().path_for(recent_sha).exists()
    assert store().exists(db.session.scalar(select(Exhibit.sha256)))
    removed = db.session.scalars(select(AuditRecord).where(AuditRecord.action == "exhibit.orphan_removed")).all()
    assert len(removed) == 1 and json.loads(removed[0].detail)["sha256"] == old_sha


def test_renderer_runs_apart_within_its_limits(app, tmp_path, monkeypatch):
    """Thumbnails (and OCR's decoding) run in a separate process that caps its own memory: an
    image too big for the cap fails there, and the caller just gets no picture."""
    from PIL import Image

    from app.evidence import thumbnails

    source = tmp_path / "grande.png"
    Image.new("RGB", (5000, 5000), "white").save(source)  # 100 MB once decoded
    out = tmp_path / "vignette.png"
    assert thumbnails.render_isolated(source, "image/png", 320, out)
    with Image.open(out) as thumb:
        assert max(thumb.size) == 320
    out.unlink()
    monkeypatch.setattr(thumbnails, "RENDER_MEMORY_BYTES", 120 * 1024 * 1024)
    small = tmp_path / "petite.png"
    Image.new("RGB", (300, 300), "white").save(small)
    assert thumbnails.render_isolated(small, "image/png", 320, out)  # the process itself fits
    out.unlink()
    assert not thumbnails.render_isolated(source, "image/png", 320, out)  # the big image does not
    assert not out.exists() or out.stat().st_size == 0
