"""Thumbnails and previews, made apart from the originals (which are never touched) and cached on disk."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from flask import current_app

from app.evidence.storage import SHA256

SIZES = {"thumb": 320, "preview": 1600}


def cache_dir() -> Path:
    # THUMBNAIL_DIR sits beside a shared EXHIBIT_STORE (app/config.py), so every server shares it.
    configured = current_app.config.get("THUMBNAIL_DIR")
    return Path(configured or Path(current_app.config["DATA_DIR"]) / "thumbnails").resolve()


def cached_path(sha256: str, variant: str) -> Path:
    if not SHA256.match(sha256) or variant not in SIZES:
        raise ValueError("invalid thumbnail key")
    root = cache_dir()
    path = (root / sha256[:2] / f"{sha256}-{variant}.png").resolve()
    if not path.is_relative_to(root):
        raise ValueError("thumbnail path outside the cache")
    return path


def can_render(mime: str) -> bool:
    return mime.startswith("image/") or mime == "application/pdf"


# The renderer runs in its own short-lived Python process (isolated mode: it imports Pillow, not
# the app) that caps its own address space and CPU time before reading the file: a hostile image
# that passed the upload checks can exhaust that process, never the web worker. pdftoppm, its
# child for PDFs, inherits the same limits.
RENDER_MEMORY_BYTES = 1536 * 1024 * 1024
RENDER_CPU_SECONDS = 60
RENDER_TIMEOUT = 90  # wall clock, seconds
_WORKER = r"""
import os, resource, subprocess, sys, tempfile, warnings
source, mime, size, out, memory, cpu, pdftoppm = sys.argv[1:8]
resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu)))
size = int(size)
from PIL import Image, ImageOps
try:
    from pillow_heif import register_heif_opener
    register_heif_opener()
except ImportError:
    pass
Image.MAX_IMAGE_PIXELS = 120_000_000  # the upload's limit (app/evidence/sniff.py)
with tempfile.TemporaryDirectory(prefix="constat-render-") as tmp:
    if mime == "application/pdf":
        if not pdftoppm:
            sys.exit(3)
        subprocess.run([pdftoppm, "-png", "-f", "1", "-l", "1", "-scale-to", str(size), source,
                        os.path.join(tmp, "page")], check=True, capture_output=True, timeout=int(cpu))
        pages = sorted(n for n in os.listdir(tmp) if n.endswith(".png"))
        if not pages:
            sys.exit(4)
        img = Image.open(os.path.join(tmp, pages[0]))
        img.load()
        image = img
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        if img.format == "JPEG":
            img.draft("RGB", (size, size))  # decode at reduced scale: fast and small for big photos
        img.load()
        image = ImageOps.exif_transpose(img)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    image.thumbnail((size, size))
    image.save(out, "PNG", compress_level=3)
"""


def render_isolated(source: Path, mime: str, size: int, out: Path) -> bool:
    """Write a PNG of the file (first page of a PDF) no larger than size × size into `out`, in a
    separate process with memory and time limits. False when it could not (limits, damage)."""
    import shutil
    import subprocess  # noqa: S404 - fixed interpreter and arguments, no shell

    args = [sys.executable, "-I", "-c", _WORKER, str(source), mime, str(size), str(out),
            str(RENDER_MEMORY_BYTES), str(RENDER_CPU_SECONDS), shutil.which("pdftoppm") or ""]
    try:
        done = subprocess.run(args, capture_output=True, timeout=RENDER_TIMEOUT, check=False,  # noqa: S603
                              env={"PATH": os.environ.get("PATH", ""), "OMP_THREAD_LIMIT": "1"})
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and out.is_file() and out.stat().st_size > 0


def get(sha256: str, mime: str, variant: str) -> Path | None:
    """The PNG rendering of an exhibit at this size (made once), or None when it has no picture."""
    if not can_render(mime):
        return None
    path = cached_path(sha256, variant)
    if path.is_file():
        return path
    from app.evidence.storage import store

    source = store().path_for(sha256)
    if not source.is_file():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".thumb-", dir=path.parent)
    os.close(fd)
    try:
        if not render_isolated(source, mime, SIZES[variant], Path(temp)):
            Path(temp).unlink(missing_ok=True)
            return None
        # On disk before it gets its final name: on a shared store, a truncated thumbnail left by
        # a crash would otherwise be served by every server for ever.
        with open(temp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
