"""Thumbnails and previews, made apart from the originals (which are never touched) and cached on disk."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

from flask import current_app

from app.evidence.storage import SHA256

SIZES = {"thumb": 320, "preview": 1600}


def cache_dir() -> Path:
    return (Path(current_app.config["DATA_DIR"]) / "thumbnails").resolve()


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
    image = _render(source, mime, SIZES[variant])
    if image is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".thumb-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            image.save(fh, "PNG", compress_level=3)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _render(source: Path, mime: str, size: int):
    from PIL import Image, ImageOps

    import app.evidence.sniff  # noqa: F401 - registers the HEIF opener

    if mime == "application/pdf":
        from app.evidence.ocr import OcrUnavailable, render_pdf_pages

        try:
            pages = render_pdf_pages(source, 1, 0, scale_to=size)
        except (OcrUnavailable, OSError, ValueError, RuntimeError):
            return None
        except Exception:  # noqa: BLE001 - subprocess errors, timeouts: no thumbnail, still downloadable
            return None
        if not pages:
            return None
        image = pages[0]
    else:
        with warnings.catch_warnings():
            # Checked against sniff.MAX_IMAGE_PIXELS at upload; Pillow's lower warning level is noise here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
            if img.format == "JPEG":
                img.draft("RGB", (size, size))  # decode at reduced scale: fast for big photos
            img.load()
            image = ImageOps.exif_transpose(img)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    image.thumbnail((size, size))
    return image
