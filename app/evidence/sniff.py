"""What a file really is: type sniffed from the bytes, checked against the extension, images opened safely."""

from __future__ import annotations

import email.parser
import email.policy
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import datetime

import filetype
from PIL import Image, ImageFile

try:  # HEIC/HEIF: photos from phones. Without pillow-heif they are refused, not stored blind.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is pinned in requirements.txt
    HEIF_SUPPORTED = False

# Images larger than this are refused (decompression bombs); a 108 Mpx phone photo still passes.
MAX_IMAGE_PIXELS = 120_000_000
# Memory one decoded image may take, whatever its pixel count: a 462 KB PNG can declare
# 10,900² RGBA pixels (475 MB once decoded). Checked from the header, before any decoding.
MAX_DECODED_BYTES = 256 * 1024 * 1024
# The largest side thumbnails and OCR decode a JPEG at (Pillow's draft mode picks 1/2, 1/4, 1/8).
JPEG_DECODE_SIDE = 4000
NAME_LIMIT = 150

# Sniffed type -> (label in French, accepted extensions; the first is canonical).
ACCEPTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "image/png": ("image PNG", ("png",)),
    "image/jpeg": ("image JPEG", ("jpg", "jpeg", "jpe", "jfif")),
    "image/webp": ("image WebP", ("webp",)),
    "image/heic": ("photo HEIC", ("heic", "heif", "hif")),
    "application/pdf": ("document PDF", ("pdf",)),
    "text/plain": ("texte", ("txt", "text", "log")),
    "message/rfc822": ("courriel", ("eml",)),
}
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic"})
# Sniffed by filetype but refused, with the French word the volunteer understands.
REFUSED_KINDS = {
    "application/x-msdownload": "un programme exécutable",
    "application/x-executable": "un programme exécutable",
    "application/x-deb": "un paquet logiciel",
    "application/x-rpm": "un paquet logiciel",
    "application/wasm": "un programme",
    "application/x-shockwave-flash": "une animation Flash",
    "application/x-google-chrome-extension": "une extension de navigateur",
}
ARCHIVES = {"application/zip", "application/x-tar", "application/x-rar-compressed", "application/gzip",
            "application/x-bzip2", "application/x-7z-compressed", "application/x-xz", "application/zstd",
            "application/x-compress", "application/x-lzip", "application/x-lz4", "application/x-lzop",
            "application/x-unix-archive", "application/vnd.ms-cab-compressed", "application/x-brotli",
            "application/epub+zip"}
# Markup a browser would render as a page (HTML, SVG, XML); looked for near the start of any
# file, where browsers sniff, and anywhere in PDFs (HTML/PDF polyglots).
MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|object|embed|meta|\?xml|style|img|a\s)",
                    re.IGNORECASE)
POLYGLOT = re.compile(rb"<\s*(html|script|body|svg|iframe)\b", re.IGNORECASE)
HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:[ \t]")
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"#!")
UNSAFE_NAME_CHARS = re.compile(r"[\\/:*?\"<>|]")


class Refused(Exception):
    """The file is not accepted; the message (French) says why."""


@dataclass
class Inspection:
    """What the checks found out about one file."""

    mime: str
    extension: str
    label: str
    clean_name: str
    width: int | None = None
    height: int | None = None
    exif_taken_at: datetime | None = None
    text: str | None = None  # text and e-mail files: their readable text, ready at once


def clean_filename(name: str | None) -> str:
    """The original name as harmless metadata: no folders, control or bidi characters, bounded length.

    Never used to build a path; kept so a volunteer recognises the file.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control (NUL, CR, LF…); Cf: format (right-to-left overrides, zero-width joiners…).
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
    name = UNSAFE_NAME_CHARS.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > NAME_LIMIT:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: NAME_LIMIT - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:NAME_LIMIT].rstrip(" .")
    return name or "fichier"


def extension_of(clean_name: str) -> str:
    stem, dot, ext = clean_name.rpartition(".")
    return ext.lower() if dot and stem else ""


def inspect(data: bytes, filename: str | None, *, max_bytes: int) -> Inspection:
    """Check one file's bytes and name; return what it is, or raise Refused with a French reason."""
    if len(data) == 0:
        raise Refused("Le fichier est vide.")
    if len(data) > max_bytes:
        raise Refused(f"Le fichier dépasse la taille maximale autorisée ({_mb(max_bytes)}).")
    clean_name = clean_filename(filename)
    ext = extension_of(clean_name)
    mime = _sniff(data, ext)
    label, extensions = ACCEPTED[mime]
    if ext and ext not in extensions:
        raise Refused(f"L'extension « .{ext[:10]} » ne correspond pas au contenu du fichier, qui est "
                      f"{_article(label)}. Renommez-le en « .{extensions[0]} » ou vérifiez qu'il s'agit du bon fichier.")
    result = Inspection(mime=mime, extension=ext or extensions[0], label=label, clean_name=clean_name)
    if mime in IMAGE_TYPES:
        _check_image(data, result)
    elif mime == "application/pdf":
        _check_pdf(data)
    elif mime == "text/plain":
        result.text = _decode_text(data)
    elif mime == "message/rfc822":
        result.text = email_text(data)
    return result


def _sniff(data: bytes, ext: str) -> str:
    head = data[:4096]
    kind = filetype.guess(head)
    if kind is not None:
        mime = kind.mime
        if mime in ACCEPTED:
            # A real image or PDF may still carry markup where browsers sniff it: refuse.
            if mime == "application/pdf" and POLYGLOT.search(data):
                raise Refused("Ce PDF contient aussi du code de page web (fichier polyglotte) : il est refusé.")
            return mime
        if mime in REFUSED_KINDS or head.startswith(EXECUTABLE_MAGIC[:2]):
            raise Refused(f"Ce fichier est {REFUSED_KINDS.get(mime, 'un programme exécutable')} : "
                          "seules les images, les PDF, les textes et les courriels sont acceptés.")
        if mime in ARCHIVES or mime.startswith("application/vnd.") or mime in {
                "application/msword", "application/vnd.ms-excel"}:
            raise Refused("Les archives et documents bureautiques (zip, docx, xlsx…) ne sont pas acceptés : "
                          "enregistrez le document en PDF puis ajoutez le PDF.")
        raise Refused(f"Ce type de fichier ({mime}) n'est pas accepté : seules les images (PNG, JPEG, WebP, HEIC), "
                      "les PDF, les textes et les courriels (.eml) le sont.")
    if head.startswith(EXECUTABLE_MAGIC):
        raise Refused("Ce fichier est un programme exécutable : seules les images, les PDF, les textes et les "
                      "courriels sont acceptés.")
    if head.startswith((b"\x89PNG", b"\xff\xd8", b"%PDF", b"RIFF")):
        raise Refused("Le fichier est endommagé ou incomplet : son en-tête est illisible.")
    if b"\x00" in head:
        raise Refused("Ce fichier binaire n'est pas d'un type accepté : seules les images (PNG, JPEG, WebP, HEIC), "
                      "les PDF, les textes et les courriels (.eml) le sont.")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    is_mail = ext == "eml" and HEADER_LINE.match(stripped)
    if not is_mail and MARKUP.search(head[:1024]):
        if re.search(rb"<\s*svg", head, re.IGNORECASE):
            raise Refused("Les images SVG ne sont pas acceptées (elles peuvent contenir du code) : "
                          "faites une capture d'écran en PNG.")
        raise Refused("Les pages web (HTML, XML) ne sont pas acceptées : enregistrez la page en PDF "
                      "ou faites une capture d'écran.")
    if ext == "eml":
        if not is_mail:
            raise Refused("Ce fichier .eml n'est pas un courriel lisible (en-têtes absents).")
        return "message/rfc822"
    if ext in ("", *ACCEPTED["text/plain"][1]):
        _decode_text(data)
        return "text/plain"
    raise Refused(f"Le contenu du fichier ne correspond pas à son extension « .{ext[:10]} » "
                  "(ce n'est ni une image, ni un PDF, ni un texte, ni un courriel).")


def _check_image(data: bytes, result: Inspection) -> None:
    if result.mime == "image/heic" and not HEIF_SUPPORTED:
        raise Refused("Les photos HEIC ne peuvent pas être lues sur ce serveur : exportez-la en JPEG.")
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a global set elsewhere would let cut-off files through
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's warning; its hard error (2 × 89 Mpx) stays.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS or width <= 0 or height <= 0:
                    raise Refused(f"L'image annonce {width} × {height} pixels : c'est au-delà de la limite "
                                  f"({MAX_IMAGE_PIXELS // 1_000_000} millions de pixels), elle est refusée.")
                needed = decoded_bytes(img.mode, width, height, img.format)
                if needed > MAX_DECODED_BYTES:
                    raise Refused(f"L'image annonce {width} × {height} pixels ({img.mode}) : une fois ouverte, elle "
                                  f"occuperait {needed // (1024 * 1024)} Mo de mémoire, au-delà de la limite "
                                  f"({MAX_DECODED_BYTES // (1024 * 1024)} Mo) ; elle est refusée. Réduisez sa taille "
                                  "ou faites une capture d'écran.")
                if img.format == "JPEG":
                    # Decode at 1/8 scale: every byte is still read, so truncation is still caught.
                    img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                img.load()
                if result.mime == "image/png" and b"IEND" not in data:
                    raise OSError("truncated: no IEND chunk")
                result.width, result.height = width, height
                result.exif_taken_at = _exif_date(img)
    except Refused:
        raise
    except Image.DecompressionBombError:
        raise Refused("L'image est démesurément grande (bombe de décompression) : elle est refusée.") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, RuntimeError) as exc:
        if "truncated" in str(exc).lower():
            raise Refused("L'image est tronquée (fichier incomplet) : reprenez la capture ou le transfert.") from None
        raise Refused("L'image est endommagée et ne peut pas être ouverte.") from None


def _bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow uses per pixel in memory: one-band 8-bit modes 1, 16-bit 2, everything
    else 4 (RGB is stored as 32 bits, like RGBA)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def jpeg_draft_scale(width: int, height: int, side: int = JPEG_DECODE_SIDE) -> int:
    """The reduction Pillow's JPEG draft mode applies when asked for `side` × `side` (as in
    JpegImageFile.draft: the largest of 8, 4, 2, 1 not above the ratio)."""
    ratio = min(width // side, height // side)
    return next((s for s in (8, 4, 2) if ratio >= s), 1)


def decoded_bytes(mode: str, width: int, height: int, fmt: str | None) -> int:
    """Memory needed to decode the image as thumbnails and OCR do, from its header only; twice
    the image for modes converted (palette with transparency, CMYK…) before use."""
    if fmt == "JPEG":
        scale = jpeg_draft_scale(width, height)
        width, height = -(-width // scale), -(-height // scale)
    size = width * height * _bytes_per_pixel(mode)
    return size if mode in ("RGB", "RGBA", "L", "LA") else size + width * height * 4


def _exif_date(img: Image.Image) -> datetime | None:
    """The date the photo was taken, from EXIF (local time of the device, as written)."""
    try:
        exif = img.getexif()
        raw = exif.get_ifd(0x8769).get(36867) or exif.get(306)  # DateTimeOriginal, then DateTime
    except Exception:  # noqa: BLE001 - broken EXIF is common and never a reason to refuse
        return None
    if not isinstance(raw, str):
        return None
    try:
        taken = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return taken if 1990 <= taken.year <= 2100 else None


def _check_pdf(data: bytes) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if _raw_active(data):
        raise Refused(ACTIVE_PDF_REASON)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:  # most "protected" PDFs open with an empty user password (owner password only)
                if not reader.decrypt(""):
                    return  # kept as received; the text cannot be read (nor its actions: see ACTIVE_PDF)
            except Exception:  # noqa: BLE001 - unsupported encryption: kept as received
                return
        if len(reader.pages) == 0:
            raise Refused("Ce PDF ne contient aucune page.")
        if _has_active_content(reader):
            raise Refused(ACTIVE_PDF_REASON)
    except Refused:
        raise
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        raise Refused("Ce PDF est endommagé et ne peut pas être ouvert.") from None


# Actions that run code or programs. An action's type (/S /JavaScript, /S /Launch) is a name in
# clear even in an encrypted PDF; names may be written with #xx escapes (/J#61vaScript). The raw
# scan looks for those two long names only (a short one like /JS could occur by chance inside
# compressed image data); the walk over the parsed objects also finds /JS and /JavaScript keys.
ACTIVE_PDF = re.compile(rb"/(?:J|L|#4[aAcC])(?:[A-Za-z]|#[0-9a-fA-F]{2}){5,31}")
_ACTIVE_NAMES = {"/JavaScript", "/JS", "/Launch"}
ACTIVE_PDF_REASON = ("Ce PDF contient du code (JavaScript) ou une action qui lance un programme : il est refusé, "
                     "car il pourrait s'exécuter chez l'avocat·e ou au tribunal. Ouvrez-le et « Imprimer » → "
                     "« Enregistrer au format PDF », puis ajoutez cette copie.")
_MAX_PDF_OBJECTS = 50_000


def _pdf_name(raw: bytes) -> str:
    return "/" + re.sub(rb"#([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), raw[1:]).decode("latin-1")


def _raw_active(data: bytes) -> bool:
    return any(_pdf_name(m.group()) in ("/JavaScript", "/Launch") for m in ACTIVE_PDF.finditer(data))


def _has_active_content(reader) -> bool:
    """Walk every object reachable from the trailer: a /JavaScript or /JS entry, or an action
    whose /S is /JavaScript or /Launch (OpenAction, AA, annotations, name trees)."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    seen: set[tuple[int, int]] = set()
    stack = [reader.trailer]
    visited = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            try:
                obj = obj.get_object()
            except Exception:  # noqa: BLE001, S112 - a dangling reference is not active content
                continue
        visited += 1
        if visited > _MAX_PDF_OBJECTS:
            return True  # far beyond any real document: refuse rather than walk on
        if isinstance(obj, DictionaryObject):
            for name, value in obj.items():
                if name in ("/JavaScript", "/JS"):
                    return True
                if name == "/S" and isinstance(value, NameObject) and value in ("/JavaScript", "/Launch"):
                    return True
                if name != "/Parent":
                    stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    return False


def decode_text(data: bytes) -> str:
    """Text of a file typed by people: UTF-8 (with or without BOM), else Windows-1252, else Latin-1."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _decode_text(data: bytes) -> str:
    if b"\x00" in data:
        raise Refused("Ce fichier texte contient des caractères binaires : il n'est pas accepté.")
    text = decode_text(data)
    if MARKUP.search(data[:1024]):
        raise Refused("Les pages web (HTML, XML, SVG) ne sont pas acceptées : enregistrez la page en PDF "
                      "ou faites une capture d'écran.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def email_text(data: bytes) -> str:
    """Headers that matter and the readable body of an .eml file."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
    if not any(message.get(h) for h in ("From", "To", "Subject", "Date")):
        raise Refused("Ce fichier .eml n'est pas un courriel lisible (en-têtes absents).")
    lines = []
    for header, label in (("From", "De"), ("To", "À"), ("Date", "Date"), ("Subject", "Objet")):
        try:
            value = message.get(header)
        except Exception:  # noqa: BLE001 - malformed headers are shown as absent
            value = None
        if value:
            lines.append(f"{label} : {str(value)[:500]}")
    body = ""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            body = part.get_content()
            if part.get_content_type() == "text/html":
                body = _strip_tags(body)
    except Exception:  # noqa: BLE001 - an undecodable body still leaves the headers
        body = ""
    return "\n".join(lines) + ("\n\n" + body.strip() if body.strip() else "")


def _strip_tags(html: str) -> str:
    html = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", html)
    text = re.sub(r"(?s)<[^>]+>", " ", html)
    import html as html_module

    return re.sub(r"[ \t]+", " ", html_module.unescape(text))


def _article(label: str) -> str:
    return ("un " if label.startswith(("document", "texte", "courriel")) else "une ") + label


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} Mo" if size >= 1024 * 1024 else f"{size} octets"
