"""Text hygiene for the exports: XML-safe text, French typography, ASCII file names."""

from __future__ import annotations

import re
import unicodedata

# Everything XML 1.0 forbids (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF).
# Also the bidirectional embedding/override/isolate controls: U+202E in an event reference would
# reverse the text that follows it in the Word requête (a name or a date read backwards).
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]")
NBSP = "\u00a0"
_SPACE_BEFORE = re.compile(r"[ \u202f](?=[:;?!»])")
_AFTER_OPEN_GUILLEMET = re.compile(r"«[ \u202f]?")
_BEFORE_CLOSE_GUILLEMET = re.compile(r"(?<=\S)»")


def xml_safe(text: object) -> str:
    """Text with the characters XML cannot hold removed (Word and Excel files are XML), and the
    bidirectional override controls that would reorder what a reader sees."""
    if text is None:
        return ""
    return _ILLEGAL_XML.sub("", str(text))


def typo_fr(text: str) -> str:
    """French typography: non-breaking spaces before : ; ? ! and inside « ».

    Only existing spaces are made non-breaking (plus the ones guillemets require), so URLs
    and times such as « 10:30 » are left alone.
    """
    text = _SPACE_BEFORE.sub(NBSP, text).replace("n° ", "n°" + NBSP).replace(" €", NBSP + "€")
    text = _AFTER_OPEN_GUILLEMET.sub("«" + NBSP, text)
    return _BEFORE_CLOSE_GUILLEMET.sub(NBSP + "»", text)


def ascii_slug(text: str, limit: int = 60) -> str:
    """Lowercase ASCII words joined by « - »: no accents, no spaces, no special characters."""
    folded = unicodedata.normalize("NFKD", text or "")
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = folded.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("ß", "ss")
    words = re.findall(r"[A-Za-z0-9]+", folded.encode("ascii", "ignore").decode())
    slug = "-".join(w.lower() for w in words)
    return slug[:limit].strip("-")
