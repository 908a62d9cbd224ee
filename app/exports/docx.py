"""Plain rows → Word files (.docx bytes): the scaffolding the requêtes share, the bordereau and the collective dossier.

No Flask, no database: rows, texts (app/data/brief.json), the association's optional base
document and the clock come in as arguments. Every string goes through `_clean` (XML-safe,
French typography); python-docx escapes markup, so « <script> » stays literal text.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from docx import Document
from docx.opc.packuri import PackURI
from docx.opc.pkgwriter import PackageWriter
from docx.package import ImageParts
from docx.parts.image import ImagePart
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor

from app.core.formats import date_long, datetime_fr
from app.exports.rows import ExhibitRow
from app.exports.summary import ANONYMISED, PSEUDONYMISED, VARIANT_LABELS, Scope, Summary
from app.exports.text import typo_fr, xml_safe

PLACEHOLDER = re.compile(r"(\[À COMPLÉTER[^\]]*\])")
# Formats Word shows natively; anything else (HEIC, WebP…) is converted to PNG for the annex.
WORD_IMAGE_FORMATS = {"PNG", "JPEG", "GIF", "BMP", "TIFF"}
CAPTION_ALLOWANCE = Cm(3.5)  # heading + caption on an annex page
DOSSIER_TABLE_LIMIT = 1000


def _clean(value: object) -> str:
    return typo_fr(xml_safe(value))


# --- document scaffolding ---------------------------------------------------------------------

def validate_template(content: bytes) -> str | None:
    """None if python-docx opens the bytes as a Word document; a French reason otherwise."""
    try:
        document = Document(io.BytesIO(content))
        document.sections[0]  # noqa: B018  (touch the body: a broken part fails here)
    except Exception as exc:  # python-docx raises many types for a broken or foreign file
        return f"ce fichier n'est pas un document Word .docx lisible ({type(exc).__name__})."
    return None


def _new_document(template: bytes | None):
    """A document from the association's base (body emptied, header and footer kept) or the default."""
    if template:
        document = Document(io.BytesIO(template))
        body = document.element.body
        for child in list(body):
            if child.tag != qn("w:sectPr"):
                body.remove(child)
    else:
        document = Document()
        normal = document.styles["Normal"]
        normal.font.name = "Times New Roman"
        normal.font.size = Pt(11.5)
        section = document.sections[0]
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2.2)
        section.top_margin = section.bottom_margin = Cm(2)
    _ensure_styles(document)
    _set_language(document, "fr-FR")
    _page_numbers(document)
    _index_image_parts(document)
    return document


class _IndexedImageParts(ImageParts):
    """python-docx's image collection with a SHA-1 index: its own looks a picture up by
    re-hashing every image already added (O(n²) in bytes hashed: 40 screenshots hash ~250 MB),
    and numbers a new part by scanning them all. Here each blob is hashed once, when added."""

    def __init__(self):
        super().__init__()
        self._by_sha1: dict[str, ImagePart] = {}

    def append(self, item: ImagePart) -> None:
        super().append(item)
        self._by_sha1.setdefault(item.sha1, item)

    def _get_by_sha1(self, sha1: str) -> ImagePart | None:
        return self._by_sha1.get(sha1)

    def _next_image_partname(self, ext: str) -> PackURI:
        used = {part.partname.idx for part in self}
        n = len(self) + 1
        while n in used:
            n += 1
        return PackURI(f"/word/media/image{n}.{ext}")


def _index_image_parts(document) -> None:
    """Give the document the indexed collection, keeping the parts a base document brings."""
    package = document.part.package
    indexed = _IndexedImageParts()
    for part in package.image_parts:
        indexed.append(part)
    package.__dict__["image_parts"] = indexed  # replaces python-docx's lazyproperty value


def _ensure_styles(document) -> None:
    """An uploaded base may lack the built-in styles we use: add plain equivalents so the
    headings still reach the navigation pane (outline level) and lists still read well."""
    styles = document.styles
    names = {s.name for s in styles}
    for name, size, outline in (("Heading 1", 14, 0), ("Heading 2", 12, 1), ("Title", 16, None)):
        if name not in names:
            style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            style.base_style = styles["Normal"]
            style.font.bold, style.font.size = True, Pt(size)
            style.paragraph_format.space_before, style.paragraph_format.keep_with_next = Pt(12), True
            if outline is not None:
                ppr = style.element.get_or_add_pPr()
                level = OxmlElement("w:outlineLvl")
                level.set(qn("w:val"), str(outline))
                ppr.append(level)
    for name in ("Caption", "List Number"):
        if name not in names:
            style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            style.base_style = styles["Normal"]
            if name == "Caption":
                style.font.italic, style.font.size = True, Pt(9)


def _set_language(document, lang: str) -> None:
    """French spelling and hyphenation for the whole document (docDefaults)."""
    styles_el = document.styles.element
    defaults = styles_el.find(qn("w:docDefaults"))
    if defaults is None:
        return
    rpr_default = defaults.find(qn("w:rPrDefault"))
    if rpr_default is None:
        return
    rpr = rpr_default.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        rpr_default.append(rpr)
    lang_el = rpr.find(qn("w:lang"))
    if lang_el is None:
        lang_el = OxmlElement("w:lang")
        rpr.append(lang_el)
    lang_el.set(qn("w:val"), lang)


def _field(paragraph, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) as begin / instruction / separate / result / end runs."""
    for kind, text in (("begin", None), (None, instruction), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text == instruction:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {instruction} "
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._r.append(element)


def _page_numbers(document) -> None:
    """« Page N sur M » centred in the footer, unless the base already numbers its pages."""
    for section in document.sections:
        footer = section.footer
        xml = footer._element.xml
        if "PAGE" in xml and ("fldSimple" in xml or "instrText" in xml):
            continue
        paragraph = footer.add_paragraph() if footer.paragraphs and footer.paragraphs[0].text else (
            footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph())
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run("Page ")
        _field(paragraph, "PAGE")
        paragraph.add_run(" sur ")
        _field(paragraph, "NUMPAGES")


def _runs(paragraph, text: str, *, bold: bool = False) -> None:
    """Add text; « [À COMPLÉTER …] » placeholders are bold and highlighted for the lawyer."""
    for part in PLACEHOLDER.split(_clean(text)):
        if not part:
            continue
        run = paragraph.add_run(part)
        if PLACEHOLDER.fullmatch(part):
            run.bold = True
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        elif bold:
            run.bold = True


def _style_id(document, name: str) -> str:
    """Style id by UI name, cached on the document: python-docx scans every style per lookup."""
    cache = document.__dict__.setdefault("_constat_style_ids", {})
    if name not in cache:
        cache[name] = document.styles[name].style_id
    return cache[name]


def _para(document, text: str = "", style: str | None = None, *, bold: bool = False,
          align=None, page_break: bool = False):
    paragraph = document.add_paragraph()
    if style:
        paragraph._p.style = _style_id(document, style)
    if text:
        _runs(paragraph, text, bold=bold)
    if align is not None:
        paragraph.alignment = align
    if page_break:
        paragraph.paragraph_format.page_break_before = True
    return paragraph


def _heading(document, text: str, level: int, *, page_break: bool = False):
    return _para(document, text, f"Heading {level}", page_break=page_break)


class _NumberedList:
    """Paragraphs in the « List Number » style, numbering restarted at 1 for each list.

    When the style carries no numbering (an uploaded base), the number is written out."""

    def __init__(self, document):
        self.document = document
        self.count = 0
        self.num_id = None
        try:
            ppr = document.styles["List Number"].element.pPr
            numpr = ppr.numPr if ppr is not None else None
            if numpr is not None and numpr.numId is not None:
                numbering = document.part.numbering_part.numbering_definitions._numbering
                base = numbering.num_having_numId(numpr.numId.val)
                new = numbering.add_num(base.abstractNumId.val)
                new.add_lvlOverride(ilvl=0).add_startOverride(1)
                self.num_id = new.numId
        except (KeyError, AttributeError, NotImplementedError):
            self.num_id = None

    def item(self, text: str):
        self.count += 1
        paragraph = self.document.add_paragraph()
        paragraph._p.style = _style_id(self.document, "List Number")
        if self.num_id is not None:
            numpr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
            numpr.get_or_add_ilvl().val = 0
            numpr.get_or_add_numId().val = self.num_id
        else:
            paragraph.add_run(f"{self.count}. ")
        _runs(paragraph, text)
        return paragraph


def _table(document, headers: list[str], rows: Iterable[list[str]], widths: list[float] | None = None):
    table = document.add_table(rows=1, cols=len(headers))
    try:
        table.style = document.styles["Table Grid"]
    except KeyError:
        pass
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        _runs(cell.paragraphs[0], header, bold=True)
    _repeat_header(table.rows[0])
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=False):
            cell.paragraphs[0].add_run(_clean(value))
    if widths:
        table.autofit = False
        for column, width in zip(table.columns, widths, strict=False):
            column.width = Cm(width)
        for row in table.rows:
            for cell, width in zip(row.cells, widths, strict=False):
                cell.width = Cm(width)
    return table


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    element = OxmlElement("w:tblHeader")
    element.set(qn("w:val"), "true")
    trpr.append(element)


# Pictures are compressed already: deflating 40 screenshots again took most of a requête's time
# (about 1 s of zlib for 6 MB) and saved nothing.
_STORED_MEDIA = (".png", ".jpg", ".jpeg", ".gif")


class _PackageZip:
    """python-docx's physical package writer (write/close), with pictures stored as they are."""

    def __init__(self, target):
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED)

    def write(self, pack_uri, blob: bytes) -> None:
        name = pack_uri.membername
        stored = name.startswith("word/media/") and name.lower().endswith(_STORED_MEDIA)
        self._zip.writestr(name, blob, compress_type=zipfile.ZIP_STORED if stored else None)

    def close(self) -> None:
        self._zip.close()


def _save(document) -> bytes:
    """The document's bytes: `OpcPackage.save` (python-docx 1.2), writing through `_PackageZip`."""
    package = document.part.package
    for part in package.parts:
        part.before_marshal()
    buffer = io.BytesIO()
    writer = _PackageZip(buffer)
    PackageWriter._write_content_types_stream(writer, package.parts)
    PackageWriter._write_pkg_rels(writer, package.rels)
    PackageWriter._write_parts(writer, package.parts)
    writer.close()
    return buffer.getvalue()


# --- pièces: bordereau and annexes (the requête itself is built in app/legal/requete.py) --------

def exhibit_nature(exhibit: ExhibitRow, natures: dict[str, str]) -> str:
    """What the pièce is: the nature recorded with it (capture d'écran, accusé LRAR…), else a
    guess from its type."""
    from app.legal.codes import NATURES

    recorded = getattr(exhibit, "nature", "")
    if recorded in NATURES:
        return NATURES[recorded]
    if exhibit.is_image:
        return natures.get("image", "Image")
    if exhibit.mime in natures:
        return natures[exhibit.mime]
    if exhibit.mime.startswith("text/"):
        return natures.get("text", "Document")
    return natures.get("other", "Document")


def exhibit_label(exhibit: ExhibitRow, natures: dict[str, str]) -> str:
    """« Capture d'écran du 12 février 2025 : message d'erreur » — nature, date, description."""
    label = exhibit_nature(exhibit, natures)
    if exhibit.day:
        label += f" du {date_long(exhibit.day)}"
    description = " ".join(exhibit.description.split())
    if description:
        label += f" : {description[:160]}{'…' if len(description) > 160 else ''}"
    return label


def cite(numbers: list[int]) -> str:
    """« (pièce n° 3) », « (pièces n° 3 et 4) », « (pièces n° 3, 4 et 7) »."""
    if not numbers:
        return ""
    if len(numbers) == 1:
        return f"(pièce n° {numbers[0]})"
    head = ", ".join(str(n) for n in numbers[:-1])
    return f"(pièces n° {head} et {numbers[-1]})"


def _bordereau(document, exhibits: list[ExhibitRow], texts: dict, *, page_break: bool,
               missing: list[str] | None = None) -> None:
    """The numbered pièces, then one highlighted « [À FOURNIR : …] » line per standard pièce the
    case lacks (app.exports.pieces.missing_standard_pieces)."""
    from app.exports.pieces import placeholder

    _heading(document, texts["bordereau_heading"], 1, page_break=page_break)
    missing = [placeholder(label) for label in (missing or []) if label.strip()]
    if not exhibits:
        _para(document, texts["bordereau_empty"])
        if not missing:
            return
    natures = texts["natures"]
    rows = []
    for x in exhibits:
        label = exhibit_label(x, natures)
        if x.path is None:
            label += " (fichier manquant)"
        rows.append([f"Pièce n° {x.number}", label])
    rows.extend(["À fournir", label] for label in missing)
    table = _table(document, ["N°", "Pièce"], rows, widths=[2.6, 14])
    for row in list(table.rows)[len(rows) - len(missing) + 1:]:  # + 1: the header row
        for cell in row.cells:
            for run in cell.paragraphs[0].runs:
                run.bold = True
                run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def _annexes(document, exhibits: list[ExhibitRow], texts: dict) -> None:
    natures = texts["natures"]
    _heading(document, texts["annexes_heading"], 1, page_break=True)
    for x in exhibits:
        if x.path is None:
            _para(document, texts["annex_missing"].format(numero=x.number, sha256=x.sha256))
        elif not x.is_image:
            _para(document, texts["annex_not_image"].format(numero=x.number, nature=exhibit_nature(x, natures)))
    section = document.sections[-1]
    max_width = Emu(section.page_width - section.left_margin - section.right_margin)
    max_height = Emu(section.page_height - section.top_margin - section.bottom_margin - CAPTION_ALLOWANCE)
    first = True
    for x in exhibits:
        if x.path is None or not x.is_image:
            continue
        picture = _picture_source(x.path)
        if picture is None:
            _para(document, texts["annex_missing"].format(numero=x.number, sha256=x.sha256), page_break=not first)
            first = False
            continue
        stream, (width_px, height_px) = picture
        ratio = height_px / width_px
        width = min(max_width, int(max_height / ratio))
        heading = _heading(document, f"Pièce n° {x.number}", 2, page_break=not first)
        heading.paragraph_format.keep_with_next = True
        first = False
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.keep_with_next = True
        paragraph.add_run().add_picture(stream, width=Emu(width), height=Emu(int(width * ratio)))
        caption = _para(document, texts["annex_caption"].format(numero=x.number, label=exhibit_label(x, natures),
                                                                sha256=x.sha256), "Caption")
        caption.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _picture_source(path: Path):
    """(stream or path, (width, height)) ready for Word, or None when the image is unreadable.

    Originals stay untouched: a copy is converted when Word cannot show the format (HEIC,
    WebP) or when the photo carries an EXIF rotation Word would ignore."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - optional format
        pass
    try:
        with Image.open(path) as image:
            size = image.size
            orientation = image.getexif().get(0x0112, 1) if image.format in {"JPEG", "TIFF", "HEIF"} else 1
            if image.format in WORD_IMAGE_FORMATS and orientation in (1, None):
                # A stream, not the store's path: the stored name has no extension, and the part
                # would be « image1. » (python-docx names parts from the file's extension).
                return io.BytesIO(path.read_bytes()), size
            converted = ImageOps.exif_transpose(image)
            if converted.mode not in ("RGB", "RGBA", "L"):
                converted = converted.convert("RGBA")
            buffer = io.BytesIO()
            converted.save(buffer, format="PNG")
            buffer.seek(0)
            return buffer, converted.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def build_bordereau(reference: str, exhibits: list[ExhibitRow], *, texts: dict, today: date,
                    missing: list[str] | None = None) -> bytes:
    """The bordereau alone (the inventory of the Télérecours bundle); `missing`: labels of the
    standard pièces still to provide, shown as highlighted placeholders."""
    document = _new_document(None)
    _para(document, texts["bordereau_heading"], "Title", align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(document, f"Dossier {reference} – établi le {date_long(today)}", align=WD_ALIGN_PARAGRAPH.CENTER)
    _bordereau(document, exhibits, texts, page_break=False, missing=missing)
    return _save(document)


# --- the collective dossier -------------------------------------------------------------------

@dataclass
class DossierCase:
    """One line of the anonymised case table."""

    pseudonym: str
    departement: str
    demarche: str
    titre: str
    blocage: str
    onset_month: str
    days_blocked: int | None
    days_without_rights: int | None
    remedies: str
    outcome: str


def format_value(value, header: str) -> str:
    if value is None:
        return "—"
    if header == "Part" and isinstance(value, float):
        return f"{value * 100:.1f}".replace(".", ",") + "\u00a0%"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}".replace(".", ",")
    return str(value)


TRACE_IDS_IN_DOSSIER = 60  # pseudonyms printed per figure; the workbook's « Traçabilité » has them all


def build_dossier(summary: Summary, cases: list[DossierCase], charts: list[tuple[str, bytes]], *,
                  org_name: str, generated_at: datetime, filters: list[str], total_cases: int,
                  scope: Scope | None = None, coalition: bool = False) -> bytes:
    """The aggregated dossier for a collective filing, as .docx bytes: an annex a lawyer can file
    (method, figures, the Ministry's figure opposite ours, charts, case table, traceability)."""
    variant = ANONYMISED if summary.anonymised else PSEUDONYMISED
    document = _new_document(None)
    _para(document, "Dossier collectif : blocages de l'ANEF", "Title", align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(document, f"{org_name} – {VARIANT_LABELS[variant]} – établi le {datetime_fr(generated_at)}",
          align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(document, "Filtres : " + ("; ".join(filters) if filters else "aucun (tous les dossiers)"))
    bullet = "List Bullet" if "List Bullet" in {st.name for st in document.styles} else None

    _heading(document, "Chiffres clés", 1)
    for label, value in summary.figures:
        _para(document, f"{label} : {value}", bullet)

    _heading(document, "Méthode", 1)
    _para(document, "Ce qu'est un dossier. " + summary.method[0])
    who = "les associations de la coalition" if coalition else "l'association"
    _para(document, f"Ce que voit {who}. Chaque dossier est ouvert par un·e bénévole avec la personne concernée ; "
                    "la chronologie enregistre les tentatives, les erreurs, les démarches et leurs suites, avec les "
                    "pièces (captures d'écran, courriers). Ne sont vus que les dossiers des personnes accompagnées : "
                    "ni les demandes qui aboutissent sans aide, ni les blocages de personnes qui ne s'adressent pas "
                    "à une association. Aucune donnée nominative ne figure dans ce document ; chaque dossier est "
                    "désigné par un pseudonyme stable"
                    + (", que seule l'association qui le suit peut relier à une personne." if coalition else
                       ", que seule l'association peut relier à une personne."))
    period = _period(summary)
    _para(document, f"Les dates. Chiffres arrêtés au {date_long(generated_at.date())}"
                    + (f" ; nouveaux dossiers {period}." if period else "."))
    for sentence in (scope.sentences(summary.threshold) if scope else []):
        _para(document, sentence, bullet)
    for sentence in summary.method[1:]:
        _para(document, sentence)

    _heading(document, "Face au chiffre officiel de 0,4 %", 1)
    for sentence in summary.comparison:
        _para(document, sentence)
    official = summary.official
    if official and not official.get("verified"):
        _para(document, "[À VÉRIFIER avant dépôt : citation reprise de la réponse ministérielle indiquée ; la page du "
                        "JO Sénat n'a pas pu être consultée par l'outil" + (f" ({official['source_url']})"
                                                                           if official.get("source_url") else "")
                        + ".]")
    comparison = summary.table("comparison")
    _table(document, comparison.headers, ([format_value(v, h) for h, v in zip(comparison.headers, row, strict=False)]
                                          for row in comparison.rows), widths=_stat_widths(len(comparison.headers)))

    _heading(document, "Statistiques", 1)
    for table in summary.tables:
        if table.key == "comparison":
            continue
        _heading(document, table.title, 2)
        if not table.rows:
            _para(document, "Aucune donnée.")
            continue
        _table(document, table.headers, ([format_value(v, h) for h, v in zip(table.headers, row, strict=False)]
                                         for row in table.rows), widths=_stat_widths(len(table.headers)))
        if table.note:
            _para(document, table.note)

    if charts:
        _heading(document, "Graphiques", 1)
        section = document.sections[-1]
        width = Emu(section.page_width - section.left_margin - section.right_margin)
        for title, png in charts:
            _heading(document, title, 2)
            paragraph = document.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            paragraph.add_run().add_picture(io.BytesIO(png), width=width)

    # The case table is wide: a landscape section.
    section = document.add_section()
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    _heading(document, "Tableau des dossiers (pseudonymes, dates au mois)", 1)
    if total_cases > len(cases):
        _para(document, f"Les {len(cases)} premiers dossiers sur {total_cases} figurent ci-dessous ; "
                        "le classeur Excel les contient tous.")
    if cases:
        headers = ["Pseudonyme", "Dép.", "Démarche", "Titre", "Blocage", "Début", "Jours bloqués",
                   "Jours sans droits", "Démarches tentées", "Issue"]
        table = _table(document, headers, ([c.pseudonym, c.departement, c.demarche, c.titre, c.blocage,
                                            c.onset_month, "—" if c.days_blocked is None else str(c.days_blocked),
                                            "—" if c.days_without_rights is None else str(c.days_without_rights),
                                            c.remedies, c.outcome] for c in cases))
        _small(table)
    else:
        _para(document, "Tableau omis : dans un document anonymisé, il permettrait de recompter les effectifs masqués."
              if summary.anonymised and total_cases else "Aucun dossier ne correspond aux filtres.")

    _heading(document, "Annexe : traçabilité des chiffres", 1)
    _para(document, "Pour chaque chiffre, les pseudonymes des dossiers qui le composent"
                    f" ({TRACE_IDS_IN_DOSSIER} au plus ici ; la liste complète est dans la feuille « Traçabilité » "
                    "du classeur Excel établi avec les mêmes filtres)."
                    + (" Les effectifs masqués n'ont pas de liste." if summary.anonymised else ""))
    rows = []
    for title, label, count, ids in summary.traces():
        shown = ", ".join(ids[:TRACE_IDS_IN_DOSSIER])
        if count > TRACE_IDS_IN_DOSSIER:
            shown += f" … et {count - TRACE_IDS_IN_DOSSIER} autres"
        rows.append([f"{title} — {label}", str(count), shown])
    if rows:
        _small(_table(document, ["Chiffre", "Dossiers", "Pseudonymes"], rows))
    else:
        _para(document, "Aucun chiffre à tracer.")
    _para(document, "Document établi à partir de données " + ("anonymisées" if summary.anonymised else "pseudonymisées")
          + " ; reproduction autorisée avec mention de la source.",
          "Caption").runs[0].font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    return _save(document)


def _stat_widths(columns: int) -> list[float]:
    """The label column wide (8 cm), the figures sharing the rest of a 16 cm portrait line."""
    return [8.0] + [8.0 / (columns - 1)] * (columns - 1)


def _small(table) -> None:
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(8)


def _period(summary: Summary) -> str:
    months = [code for code in summary.table("month").codes if code[:1].isdigit()]
    if not months:
        return ""
    first = _month_fr(months[0])
    return ("d'" if first[0] in "aeiouyéèâ" else "de ") + f"{first} à {_month_fr(months[-1])}"


MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def _month_fr(code: str) -> str:
    return f"{MONTHS_FR[int(code[5:7]) - 1]} {code[:4]}"
