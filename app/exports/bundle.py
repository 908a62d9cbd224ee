"""ExhibitRow → the Télérecours bundle: one PDF per pièce, the inventory, the requête, and apart
what is not to be filed.

Layout of the zip (names ASCII, ≤ 80 characters, numbered in inventory order, CJA R. 414-5):

    00_inventaire_<ref>.pdf           the bordereau (its .docx when LibreOffice is absent)
    01_<nature-description>_<date>.pdf  one PDF per pièce, in inventory order
    …
    requete_<route>_<ref>.docx        the requête without annexes, to finish, sign and save as PDF
    ne_pas_deposer/LISEZMOI.txt       what to upload, what is left to do (French)
    ne_pas_deposer/manifeste.json     per pièce: both SHA-256, conversion, state, reason
    ne_pas_deposer/00_inventaire_<ref>.docx   the editable inventory
    ne_pas_deposer/originaux/…        the original bytes of every pièce that was converted or refused

Conversions: images losslessly with img2pdf (pixels untouched; HEIC/WebP decoded by Pillow to PNG
first; EXIF rotation honoured; A4 page, never enlarged); PDFs as they are once pypdf opens them
(a PDF locked by an owner password only is unlocked by pikepdf, one that needs a password to open
is refused); text and .eml rendered as Word then converted by LibreOffice in one headless call
(timeout) with the inventory — without LibreOffice they are refused with the reason, since a
home-made renderer would silently drop the characters it has no glyph for. Anything refused is
listed with its reason and its original kept in ne_pas_deposer/originaux/.

No Flask, no database: the zip is written to `output` (a file: memory stays flat in the number
of pièces, one pièce in memory at a time).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from app.core.formats import date_long
from app.exports.docx import exhibit_nature
from app.exports.rows import ExhibitRow
from app.exports.text import ascii_slug, xml_safe

MAX_NAME = 80
NOT_FILED = "ne_pas_deposer"
ORIGINALS = f"{NOT_FILED}/originaux"
MANIFEST = f"{NOT_FILED}/manifeste.json"
README = f"{NOT_FILED}/LISEZMOI.txt"
DEFAULT_TIMEOUT = 60.0
# img2pdf embeds these as they are; anything else (HEIC, WebP…) is decoded to PNG first.
DIRECT_IMAGE_FORMATS = frozenset({"PNG", "JPEG"})
TEXT_MIMES = frozenset({"text/plain", "message/rfc822"})

CONVERSIONS = {
    "pdf-tel-quel": "PDF joint tel quel (octets identiques à l'original)",
    "pdf-deverrouille": "PDF protégé contre la modification, déverrouillé (contenu identique, protection retirée)",
    "image-sans-perte": "image convertie en PDF sans perte (pixels identiques, page A4)",
    "image-png-sans-perte": "image décodée en PNG puis convertie en PDF sans perte (page A4)",
    "texte-libreoffice": "texte mis en page puis converti en PDF par LibreOffice",
    "courriel-libreoffice": "courriel (en-têtes et texte) mis en page puis converti en PDF par LibreOffice",
}
STATES = {"incluse": "incluse", "manquante": "manquante", "refusee": "refusée", "alteree": "altérée"}


class PieceRefused(Exception):
    """This pièce cannot be turned into a PDF to file: the French reason."""


@dataclass
class PieceEntry:
    """One line of the manifest."""

    numero: int
    nature: str
    nom_origine: str
    sha256_origine: str
    etat: str = "incluse"
    fichier: str | None = None
    sha256_pdf: str | None = None
    conversion: str | None = None
    conversion_libelle: str | None = None
    pages: int | None = None
    original: str | None = None
    motif: str | None = None
    sha256_lu: str | None = None  # only when the bytes read differ from the recorded hash


@dataclass
class BundleResult:
    sha256: str
    size: int
    pieces: list[PieceEntry]
    manifest: dict
    to_file: list[str] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for p in self.pieces if p.etat == state)


# --- names ------------------------------------------------------------------------------------

def exhibit_filename(exhibit: ExhibitRow, natures: dict[str, str], width: int = 2,
                     extension: str | None = None) -> str:
    """« 03_capture-d-ecran-message-d-erreur_2025-02-12.pdf »: number first, ASCII only, ≤ 80
    characters. The number makes every name unique within its first `width` characters, so no
    two names can differ only past a cut."""
    number = f"{exhibit.number:0{width}d}"
    day = exhibit.day.isoformat() if exhibit.day else "sans-date"
    extension = ascii_slug(exhibit.extension if extension is None else extension, 8).replace("-", "") or "bin"
    fixed = len(number) + len(day) + len(extension) + 3  # two underscores and the dot
    label = ascii_slug(f"{exhibit_nature(exhibit, natures)} {exhibit.description}", MAX_NAME - fixed)
    return f"{number}_{label or 'piece'}_{day}.{extension}"


def inventory_filename(reference: str, width: int, extension: str) -> str:
    """« 00_inventaire_lyo-2025-0042.pdf »: as many zeros as the pièces' numbers have digits, so it
    sorts before « 01_… » (and « 000_… » before « 001_… »)."""
    slug = ascii_slug(reference, MAX_NAME - width - len(extension) - 13) or "dossier"
    return f"{'0' * width}_inventaire_{slug}.{extension}"


# --- conversions ------------------------------------------------------------------------------

def _a4_layout():
    import img2pdf

    a4 = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))
    border = (img2pdf.mm_to_pt(10), img2pdf.mm_to_pt(10))
    # A4, landscape for wide images, shrunk to fit the margins and never enlarged.
    return img2pdf.get_layout_fun(a4, None, border, img2pdf.FitMode.shrink, True)


def image_to_pdf(data: bytes) -> tuple[bytes, str]:
    """(PDF bytes, conversion code): lossless, one page per image. Raises PieceRefused."""
    import img2pdf
    from PIL import Image, ImageOps

    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is pinned in requirements.txt
        pass
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format in DIRECT_IMAGE_FORMATS:
                source, code = data, "image-sans-perte"
            else:
                # Decoded pixels written as PNG (lossless); EXIF rotation applied to the pixels.
                decoded = ImageOps.exif_transpose(image)
                if decoded.mode not in ("RGB", "RGBA", "L", "LA", "1", "P"):
                    decoded = decoded.convert("RGBA" if "A" in decoded.getbands() else "RGB")
                buffer = io.BytesIO()
                decoded.save(buffer, format="PNG")
                source, code = buffer.getvalue(), "image-png-sans-perte"
        pdf = img2pdf.convert(source, layout_fun=_a4_layout(), nodate=True, rotation=img2pdf.Rotation.ifvalid,
                              producer="Constat (img2pdf)")
    except Exception as exc:  # Pillow and img2pdf raise many types for a broken or exotic image
        raise PieceRefused(f"l'image ne peut pas être convertie en PDF ({_why(exc)}) : ouvrez-la, "
                           "enregistrez-la en PNG ou en PDF et ajoutez ce fichier au dossier") from None
    return pdf, code


def check_pdf(data: bytes) -> tuple[bytes, str, int]:
    """(bytes to file, conversion code, pages) for a PDF pièce: the bytes themselves when pypdf
    opens them. Reading the page count walks the page tree once: linear in pages. Raises PieceRefused."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        pages = 0 if encrypted else len(reader.pages)
    except Exception as exc:  # pypdf raises many types for a damaged file
        raise PieceRefused(f"le PDF est endommagé et ne s'ouvre pas ({_why(exc)}) : ouvrez-le et "
                           "réenregistrez-le (« Imprimer » vers PDF), puis ajoutez ce fichier au dossier") from None
    if encrypted:
        return _unlock_pdf(data)
    if pages == 0:
        raise PieceRefused("le PDF ne contient aucune page")
    return data, "pdf-tel-quel", pages


def _unlock_pdf(data: bytes) -> tuple[bytes, str, int]:
    """A PDF encrypted with an empty user password (restrictions only, common for CAF or bank
    statements) opens everywhere: file it without the protection. One that needs a password
    to open cannot be filed."""
    import pikepdf
    from pypdf import PdfReader

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            buffer = io.BytesIO()
            pdf.save(buffer, deterministic_id=True)  # encryption is removed unless asked to keep it
        unlocked = buffer.getvalue()
        pages = len(PdfReader(io.BytesIO(unlocked), strict=False).pages)
    except pikepdf.PasswordError:
        raise PieceRefused("le PDF est protégé par un mot de passe d'ouverture, que Télérecours refuse : "
                           "demandez une copie sans mot de passe, ou ouvrez-le et imprimez-le en PDF, "
                           "puis ajoutez ce fichier au dossier") from None
    except Exception as exc:  # pikepdf/pypdf errors on a damaged encrypted file
        raise PieceRefused(f"le PDF est chiffré et ne peut pas être déverrouillé ({_why(exc)})") from None
    if pages == 0:
        raise PieceRefused("le PDF ne contient aucune page")
    return unlocked, "pdf-deverrouille", pages


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:120]}".rstrip(": ")


def _decode_text(data: bytes) -> str:
    from app.evidence.sniff import decode_text

    return decode_text(data).replace("\r\n", "\n").replace("\r", "\n")


def _email_lines(data: bytes) -> str:
    """De / À / Date / Objet, the readable body and the names of the attachments of an .eml."""
    import email.parser
    import email.policy

    from app.evidence.sniff import Refused, email_text

    try:
        text = email_text(data)
    except Refused:
        return _decode_text(data)
    try:
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
        names = [part.get_filename() or part.get_content_type() for part in message.iter_attachments()]
    except Exception:  # a malformed MIME tree still leaves the headers and body
        names = []
    if names:
        text += "\n\nPièces jointes au courriel (non reproduites) : " + ", ".join(str(n)[:120] for n in names)
    return text


def text_document(data: bytes, mime: str) -> bytes:
    """The text of a text or .eml pièce as a plain Word document, for LibreOffice to lay out."""
    from docx import Document
    from docx.shared import Cm, Pt

    text = _email_lines(data) if mime == "message/rfc822" else _decode_text(data)
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "DejaVu Sans"
    normal.font.size = Pt(10)
    normal.paragraph_format.space_after = Pt(0)
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = Cm(2)
    for line in xml_safe(text).split("\n"):
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def libreoffice_pdf(binary: str, sources: list[Path], outdir: Path, *, timeout: float) -> dict[Path, Path]:
    """Convert the .docx `sources` to PDF in one headless LibreOffice run (own profile, so
    parallel runs never collide); the PDFs produced, by source. A run past `timeout` is killed
    with its children, and whatever was not produced is simply absent from the result."""
    if not sources:
        return {}
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir.parent / "lo-profile"
    command = [binary, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
               "--convert-to", "pdf", "--outdir", str(outdir), *map(str, sources)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,  # noqa: S603
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    produced = {}
    for source in sources:
        pdf = outdir / f"{source.stem}.pdf"
        if pdf.is_file() and pdf.stat().st_size > 0:
            produced[source] = pdf
    return produced


# --- the bundle -------------------------------------------------------------------------------

def build_bundle(exhibits: list[ExhibitRow], bordereau: bytes, *, natures: dict[str, str], today: date,
                 reference: str, output: Path, workdir: Path, requete: tuple[str, bytes] | None = None,
                 requete_note: str = "", missing: list[str] | None = None, soffice: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> BundleResult:
    """Write the Télérecours zip to `output` (see the module's docstring); `workdir` is an empty
    scratch directory the caller removes. `requete`: (file name, .docx bytes), or None with
    `requete_note` saying why no requête was drafted. `missing`: labels of the standard pièces
    the case lacks (already shown in `bordereau`)."""
    width = max(2, len(str(len(exhibits))))
    stamp = (today.year, today.month, today.day, 0, 0, 0)
    entries = [PieceEntry(numero=x.number, nature=exhibit_nature(x, natures), nom_origine=xml_safe(x.original_name),
                          sha256_origine=x.sha256) for x in exhibits]

    # 1. Everything LibreOffice converts, in one run: the inventory and the text pièces.
    sources: dict[str, Path] = {}
    inventory_docx = workdir / "inventaire.docx"
    inventory_docx.write_bytes(bordereau)
    sources["inventory"] = inventory_docx
    texts: dict[int, Path | str] = {}  # number → .docx to convert, or why it could not be laid out
    for x, entry in zip(exhibits, entries, strict=True):
        if x.mime in TEXT_MIMES and x.path is not None and x.path.is_file():
            data = _read_checked(x, entry)
            if data is None:
                continue
            try:
                source = workdir / f"piece-{x.number}.docx"
                source.write_bytes(text_document(data, x.mime))
            except Exception as exc:  # a text python-docx cannot hold
                texts[x.number] = f"le texte ne peut pas être mis en page ({_why(exc)})"
                continue
            texts[x.number] = sources[f"piece-{x.number}"] = source
    converted: dict[Path, Path] = {}
    if soffice:
        try:
            converted = libreoffice_pdf(soffice, list(sources.values()), workdir / "pdf", timeout=timeout)
        except OSError:  # the binary cannot be started: as if absent
            converted = {}

    to_file: list[str] = []
    with output.open("wb") as raw, zipfile.ZipFile(raw, "w") as archive:
        def put(name: str, data: bytes, *, compress: bool = False) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)

        # 2. The inventory first: its PDF to file, the editable .docx apart.
        inventory_pdf = _valid_pdf(converted.get(inventory_docx))
        inventory = {"fichier": None, "modifiable": f"{NOT_FILED}/{inventory_filename(reference, width, 'docx')}"}
        if inventory_pdf is not None:
            inventory["fichier"] = inventory_filename(reference, width, "pdf")
            put(inventory["fichier"], inventory_pdf)
            put(inventory["modifiable"], bordereau)
        else:
            inventory["fichier"] = inventory_filename(reference, width, "docx")
            inventory["modifiable"] = inventory["fichier"]
            inventory["motif"] = ("LibreOffice est absent de ce serveur" if not soffice else
                                  "la conversion par LibreOffice a échoué") + \
                " : l'inventaire est au format Word, enregistrez-le en PDF avant le dépôt"
            put(inventory["fichier"], bordereau)
        to_file.append(inventory["fichier"])

        # 3. One PDF per pièce, in inventory order.
        for x, entry in zip(exhibits, entries, strict=True):
            if entry.etat == "incluse" and (x.path is None or not x.path.is_file()):
                entry.etat, entry.motif = "manquante", "le fichier de la pièce est introuvable dans le dépôt des pièces"
            elif entry.etat == "incluse":  # not already found altered while preparing the texts
                data = _read_checked(x, entry)
                if data is not None:
                    text = texts.get(x.number)
                    _file_piece(x, entry, data, width, natures, put,
                                converted.get(text) if isinstance(text, Path) else text, soffice_present=bool(soffice))
            if entry.etat == "incluse":
                to_file.append(entry.fichier)

        # 4. The requête without annexes, to finish before filing.
        requete_info: dict = {"fichier": None, "motif": requete_note or None}
        if requete is not None:
            name, content = requete
            put(name, content)
            requete_info = {"fichier": name, "motif": None}

        # 5. Apart: the manifest and what to do.
        manifest = {
            "dossier": reference,
            "etabli_le": today.isoformat(),
            "a_deposer": to_file,
            "inventaire": inventory,
            "requete": requete_info,
            "pieces_a_fournir": list(missing or []),
            "pieces": [asdict(e) for e in entries],
            "etats": STATES,
            "conversions": CONVERSIONS,
        }
        put(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"), compress=True)
        put(README, _readme(reference, today, manifest, entries), compress=True)

    digest = hashlib.sha256()
    with output.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return BundleResult(sha256=digest.hexdigest(), size=output.stat().st_size, pieces=entries, manifest=manifest,
                        to_file=to_file)


def _read_checked(x: ExhibitRow, entry: PieceEntry) -> bytes | None:
    """The pièce's bytes when they still match their recorded SHA-256; None (entry marked) otherwise."""
    try:
        data = x.path.read_bytes()
    except OSError:
        entry.etat, entry.motif = "manquante", "le fichier de la pièce ne peut pas être lu dans le dépôt des pièces"
        return None
    actual = hashlib.sha256(data).hexdigest()
    if actual != x.sha256:
        entry.etat, entry.sha256_lu = "alteree", actual
        entry.motif = ("le fichier ne correspond plus à son empreinte enregistrée : il n'est pas joint ; "
                       "lancez « flask evidence verify » et remplacez-le par l'original")
        return None
    return data


def _file_piece(x: ExhibitRow, entry: PieceEntry, data: bytes, width: int, natures: dict[str, str], put,
                text_pdf: Path | str | None, *, soffice_present: bool) -> None:
    """Convert or pass one pièce and add it to the zip; the original goes apart when its bytes
    are not the ones filed. `text_pdf`: for a text pièce, LibreOffice's PDF, or why there is none."""
    original_name = f"{ORIGINALS}/{exhibit_filename(x, natures, width)}"
    try:
        if x.mime == "application/pdf":
            pdf, code, pages = check_pdf(data)
        elif x.is_image:
            pdf, code = image_to_pdf(data)
            pages = _pages(pdf)
        elif x.mime in TEXT_MIMES:
            if isinstance(text_pdf, str):
                raise PieceRefused(text_pdf)
            if text_pdf is None:
                raise PieceRefused(
                    "LibreOffice est absent de ce serveur : le texte n'a pas pu être converti en PDF ; "
                    "imprimez-le en PDF et ajoutez ce fichier au dossier" if not soffice_present else
                    "la conversion en PDF par LibreOffice a échoué ou a dépassé le délai ; imprimez le "
                    "document en PDF et ajoutez ce fichier au dossier")
            pdf = _valid_pdf(text_pdf)
            if pdf is None:
                raise PieceRefused("LibreOffice a produit un PDF illisible ; imprimez le document en PDF "
                                   "et ajoutez ce fichier au dossier")
            code = "courriel-libreoffice" if x.mime == "message/rfc822" else "texte-libreoffice"
            pages = _pages(pdf)
        else:
            raise PieceRefused(f"ce type de fichier ({x.mime or 'inconnu'}) ne peut pas être converti en PDF")
    except PieceRefused as exc:
        entry.etat, entry.motif = "refusee", str(exc)
        put(original_name, data)
        entry.original = original_name
        return
    entry.fichier = exhibit_filename(x, natures, width, extension="pdf")
    entry.sha256_pdf = hashlib.sha256(pdf).hexdigest()
    entry.conversion, entry.conversion_libelle, entry.pages = code, CONVERSIONS[code], pages
    put(entry.fichier, pdf)
    if pdf is not data:
        put(original_name, data)
        entry.original = original_name


def _pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf), strict=False).pages)


def _valid_pdf(path: Path | None) -> bytes | None:
    """A PDF LibreOffice produced, if pypdf opens it."""
    if path is None:
        return None
    data = path.read_bytes()
    try:
        if not data.startswith(b"%PDF") or _pages(data) == 0:
            return None
    except Exception:  # an unreadable output is treated as no output
        return None
    return data


def _readme(reference: str, today: date, manifest: dict, entries: list[PieceEntry]) -> bytes:
    """LISEZMOI.txt: what to upload, in which order, and what is left to do (French)."""
    inventory, requete = manifest["inventaire"], manifest["requete"]
    filed = [e for e in entries if e.etat == "incluse"]
    lines = [f"Dossier {reference} : pièces préparées pour Télérecours le {date_long(today)} par Constat.", "",
             "À DÉPOSER SUR TÉLÉRECOURS, dans cet ordre :"]
    step = 1
    if requete["fichier"]:
        lines.append(f"  {step}. La requête : {requete['fichier']}, après l'avoir complétée (passages surlignés "
                     "« À COMPLÉTER »), relue, signée et enregistrée en PDF.")
        step += 1
    lines.append(f"  {step}. L'inventaire des pièces : {inventory['fichier']}.")
    step += 1
    if filed:
        lines.append(f"  {step}. Les pièces, un fichier PDF par pièce, dans l'ordre de leur numéro : "
                     f"{filed[0].fichier} à {filed[-1].fichier} ({len(filed)} fichier(s)).")
    else:
        lines.append(f"  {step}. Aucune pièce n'est prête à être déposée.")
    lines += ["", "Chaque pièce porte un nom qui commence par son numéro dans l'inventaire (article R. 414-5 du code "
              "de justice administrative), en caractères simples et en 80 caractères au plus.", "",
              f"NE PAS DÉPOSER le dossier {NOT_FILED}/ : ce fichier, le manifeste (manifeste.json), l'inventaire "
              "modifiable (Word) et les fichiers d'origine des pièces converties (originaux/)."]
    todo = []
    if not requete["fichier"]:
        todo.append(f"Aucune requête n'a été rédigée : {requete['motif'] or 'voie de droit non déterminée.'}")
    if inventory.get("motif"):
        todo.append(f"Inventaire : {inventory['motif']}.")
    if manifest["pieces_a_fournir"]:
        todo.append("Pièces à fournir, surlignées « À FOURNIR » dans l'inventaire : "
                    + " ; ".join(manifest["pieces_a_fournir"]) + ". Ajoutez-les au dossier dans Constat puis "
                    "préparez à nouveau ce zip, ou retirez ces lignes de l'inventaire modifiable.")
    for e in entries:
        if e.etat != "incluse":
            todo.append(f"Pièce n° {e.numero} ({STATES[e.etat]}) : {e.motif}.")
    lines += ["", "À FAIRE AVANT LE DÉPÔT :"] + ([f"  - {t}" for t in todo] or ["  Rien : tout est prêt."])
    lines += ["", "EMPREINTES : pour chaque pièce, manifeste.json donne l'empreinte SHA-256 du fichier d'origine "
              "conservé par Constat et celle du PDF déposé. Les images sont converties sans perte (mêmes pixels) ; "
              "les PDF sont joints tels quels (même empreinte) ; les originaux des pièces converties sont dans "
              f"{ORIGINALS}/.", ""]
    return ("\ufeff" + "\r\n".join(lines)).encode("utf-8")
