"""ExhibitRow → the Télérecours zip: one file per pièce, numbered ASCII names, bordereau, manifest."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

from app.core.spreadsheet import neutralise
from app.exports.docx import exhibit_nature
from app.exports.rows import ExhibitRow
from app.exports.text import ascii_slug, xml_safe

MAX_NAME = 80


def exhibit_filename(exhibit: ExhibitRow, natures: dict[str, str], width: int = 2) -> str:
    """« 03_capture-d-ecran-message-d-erreur_2025-02-12.png »: number first, ASCII only, ≤ 80 characters."""
    number = f"{exhibit.number:0{width}d}"
    day = exhibit.day.isoformat() if exhibit.day else "sans-date"
    extension = ascii_slug(exhibit.extension, 8).replace("-", "") or "bin"
    fixed = len(number) + len(day) + len(extension) + 3  # two underscores and the dot
    label = ascii_slug(f"{exhibit_nature(exhibit, natures)} {exhibit.description}", MAX_NAME - fixed)
    return f"{number}_{label or 'piece'}_{day}.{extension}"


def build_bundle(exhibits: list[ExhibitRow], bordereau: bytes, *, natures: dict[str, str],
                 today: date) -> tuple[bytes, list[str]]:
    """The zip bytes and the names of the pièces actually included (missing files are listed
    in the manifest as « manquante » instead of failing)."""
    width = max(2, len(str(len(exhibits))))
    buffer = io.BytesIO()
    included = []
    manifest = io.StringIO()
    writer = csv.writer(manifest, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Numéro", "Fichier", "SHA-256", "Nom d'origine", "Date de capture", "État"])
    stamp = (today.year, today.month, today.day, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for x in exhibits:
            name = exhibit_filename(x, natures, width)
            state = "présente"
            if x.path is None or not x.path.is_file():
                state, name_in_zip = "manquante", ""
            else:
                info = zipfile.ZipInfo(name, date_time=stamp)
                # Images and PDFs are already compressed: store them as they are.
                info.compress_type = zipfile.ZIP_STORED if x.is_image or x.mime == "application/pdf" \
                    else zipfile.ZIP_DEFLATED
                with x.path.open("rb") as source, archive.open(info, "w") as target:
                    while chunk := source.read(1024 * 1024):
                        target.write(chunk)
                included.append(name)
                name_in_zip = name
            writer.writerow([x.number, name_in_zip, x.sha256, neutralise(xml_safe(x.original_name)),
                             x.captured_at.date().isoformat() if x.captured_at else "", state])
        archive.writestr(zipfile.ZipInfo("bordereau_des_pieces.docx", date_time=stamp), bordereau)
        # UTF-8 with BOM so that spreadsheet programs read the accents right.
        archive.writestr(zipfile.ZipInfo("manifeste.csv", date_time=stamp),
                         ("\ufeff" + manifest.getvalue()).encode("utf-8"))
    return buffer.getvalue(), included
