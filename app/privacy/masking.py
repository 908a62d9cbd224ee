"""What a role without identity.view is shown of free text: identity masked out.

One function for every surface a coordinator sees (case page, exhibits section, search excerpts
and the search index built for them): `mask(text, identity)`. It removes

- what the Person record knows: names (any order, any case, accents or not, Cyrillic spellings
  and one-letter misspellings of long names), numéro étranger, phone, e-mail, birth date, the
  lines of the address;
- what free text says of anyone (relatives included), by pattern: e-mail addresses, runs of six
  digits or more (phones, numéros étrangers, ANEF and CCC numbers, LRAR numbers, numeric dates),
  dates written out (« 12 mars 1990 »), « né(e) le … à X », « née X », « M. / Mme X », the name
  after a word of kinship or of an identity document (« sa fille Olena », « passeport de Anya
  Kowalczyk »), street addresses and « code postal + commune », words in a non-Latin script
  (in a French text, almost always a name).

It over-masks rather than under-masks: a coordinator loses a few dates and place names, never
an identity. Search indexes for roles without identity exactly the masked text (app/search), so
what they can find is what they can see.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

MASK = "[…]"

# Words, with the offsets the text had (compounds split on - ' ’ . / _ like search does).
_PART = re.compile(r"[^\W_]+", re.UNICODE)
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# Digits with single separators between them (06 12 34 56 78, 1A 123 456 7890 1, 12/03/1990,
# ANEF-69-2025-000012): masked when they hold six digits or more.
_DIGIT_RUN = re.compile(r"\+?\d+(?:[ \u00a0.\-/_]?\d+)*")
MONTHS = ("janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
          "décembre|decembre|janv|févr|fevr|avr|juil|sept|oct|nov|déc|dec")
_TEXT_DATE = re.compile(rf"\b(?:1er|\d{{1,2}})\s+(?:{MONTHS})\.?\s+\d{{2,4}}\b", re.IGNORECASE)
_STREET = re.compile(
    r"\b\d{1,4}\s*(?:bis|ter|[a-d])?\s*,?\s+(?:rue|avenue|av\.|bd|boulevard|place|chemin|all[ée]e|impasse|quai|"
    r"cours|route|square|r[ée]sidence|cit[ée]|lotissement|voie|passage|mont[ée]e|sentier|hameau|esplanade|"
    r"faubourg|parvis|villa)\b[^,.;:\n()]*", re.IGNORECASE)
_POSTCODE_CITY = re.compile(r"\b\d{5}\s+[A-ZÀ-Ý][\w'’\-]*(?:[ \-](?:[A-ZÀ-Ý][\w'’\-]*|sur|sous|en|les|de|la|le))*"
                            r"(?:\s+cedex(?:\s+\d+)?)?", re.UNICODE)
# A capitalised word (a name), possibly hyphenated or with an apostrophe (N'Diaye, Jean-Pierre).
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-ſ][\w'’\-]*"
_PARTICLE = r"(?:de|du|des|da|dos|van|von|der|el|al|ben|bin|ibn|ould|le|la|di)"
_NAME_RUN = rf"{_CAP}(?:\s+(?:{_PARTICLE}\s+)?{_CAP}){{0,3}}"
_HONORIFIC = re.compile(rf"\b(?:M\.|MM\.|Mr\.?|Mme|Mmes|Mlle|Me|Monsieur|Madame|Mademoiselle|Dr\.?)\s+({_NAME_RUN})",
                        re.UNICODE)
_BORN = re.compile(rf"(?i:\bn[ée]e?s?)\s+(?:(?i:le)\s+[^,;.\n]{{1,40}}?\s+)?[àaÀA]\s+({_NAME_RUN})"
                   rf"|(?i:\bn[ée]es?)\s+(?!(?i:le|à|a|en)\b)({_NAME_RUN})", re.UNICODE)
_KIN = ("fils|fille|filles|enfant|enfants|épouse|epouse|époux|epoux|mari|femme|conjoint|conjointe|compagnon|"
        "compagne|concubin|concubine|frère|frere|frères|sœur|soeur|sœurs|mère|mere|père|pere|parents|cousin|"
        "cousine|oncle|tante|neveu|nièce|niece|grand-mère|grand-père|belle-mère|beau-père|petit-fils|"
        "petite-fille|bébé|bebe|nourrisson|tuteur|tutrice|garant|hébergeant|hebergeant|"
        "passeport|passeports|carte d'identité|carte d’identité|acte de naissance|acte de mariage|"
        "titre de séjour|livret de famille|attestation d'hébergement|attestation d’hébergement")
# Words that follow kinship words with a capital without being names.
_NOT_NAMES = frozenset({"france", "travail", "titre", "talent", "anef", "caf", "cpam", "pole", "pôle", "api",
                        "préfecture", "prefecture", "ccc", "ofii", "ofpra", "tribunal", "sejour", "séjour",
                        "de", "du", "des", "la", "le", "les", "l", "d", "un", "une"})


_STRIP_MARKS = {cp: None for cp in range(0x300, 0x10000) if unicodedata.combining(chr(cp))}
_STRIP_MARKS.update({ord("œ"): "oe", ord("æ"): "ae"})


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text.lower()).translate(_STRIP_MARKS)


_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
    "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "i", "є": "ie", "ґ": "g"})


@lru_cache(maxsize=200_000)
def _keys(part: str) -> tuple[str, str]:
    folded = _fold(part)
    latin = folded.translate(_CYRILLIC)
    return folded, (latin if latin != folded else "")


@lru_cache(maxsize=200_000)
def _non_latin(part: str) -> bool:
    """True for a word written in another script than Latin (Cyrillic, Arabic, Greek, CJK…)."""
    for c in part:
        if c.isalpha() and ord(c) > 0x24F:
            name = unicodedata.name(c, "")
            if name and not name.startswith("LATIN") and not name.startswith("MODIFIER"):
                return True
    return False


def _near(word: str, names: frozenset[str]) -> bool:
    """One edit (insertion, deletion, substitution, transposition) from a known name of 5+ letters."""
    n = len(word)
    for name in names:
        m = len(name)
        if m < 5 or abs(m - n) > 1 or name[0] != word[0] and name[-1] != word[-1]:
            continue
        if _one_edit(word, name):
            return True
    return False


def _one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


@dataclass(frozen=True)
class Identity:
    """What the Person record says, as masking keys."""

    names: frozenset[str] = frozenset()  # folded name parts (and their Latin spelling)
    numbers: frozenset[str] = frozenset()  # digit strings (numéro étranger, phone in both forms)
    emails: frozenset[str] = frozenset()
    dates: tuple[date, ...] = ()
    address_lines: tuple[str, ...] = field(default=())  # folded lines of the address

    def __bool__(self) -> bool:
        return bool(self.names or self.numbers or self.emails or self.dates or self.address_lines)


NO_IDENTITY = Identity()


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def identity_of(person) -> Identity:
    """Masking keys of a Person (None: no keys, patterns only)."""
    if person is None:
        return NO_IDENTITY
    names: set[str] = set()
    for value in (person.first_name, person.last_name):
        for part in _PART.findall(value or ""):
            if len(part) > 1:
                folded, latin = _keys(part)
                names.add(folded)
                if latin:
                    names.add(latin)
    numbers: set[str] = set()
    for value in (person.numero_etranger, person.phone):
        number = _digits(value or "")
        if len(number) >= 4:
            numbers.add(number)
            if number.startswith("33") and len(number) == 11:
                numbers.add("0" + number[2:])
            elif number.startswith("0") and len(number) == 10:
                numbers.add("33" + number[1:])
    emails = {person.email.lower()} if getattr(person, "email", "") else set()
    lines = tuple(line for line in (_fold(x).strip() for x in re.split(r"[,\n;]", person.address or ""))
                  if len(line) >= 6)
    dates = (person.birth_date,) if getattr(person, "birth_date", None) else ()
    return Identity(frozenset(names), frozenset(numbers), frozenset(emails), dates, lines)


def _date_forms(day: date) -> list[str]:
    months = ["janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre",
              "novembre", "decembre"]
    return [f"{day.day} {months[day.month - 1]} {day.year}", f"{day.day:02d} {months[day.month - 1]} {day.year}"]


def spans(text: str, identity: Identity = NO_IDENTITY) -> list[tuple[int, int]]:
    """(start, end) of every passage to mask, unsorted and possibly overlapping."""
    found = list(_generic_spans(text))
    add = found.append
    if identity.numbers:
        for m in _DIGIT_RUN.finditer(text):
            if _digits(m.group()) in identity.numbers:
                add(m.span())
    names = identity.names
    folded = _fold(text) if names or identity.address_lines or identity.dates else ""
    if names:
        if any(name in folded for name in names):
            for m in _PART.finditer(text):
                folded_part, latin = _keys(m.group())
                if folded_part in names or (latin and latin in names):
                    add(m.span())
        # Misspellings of the person's names (one edit), only for capitalised words: cheap.
        for m in _CAPITALISED.finditer(text):
            if _near(_keys(m.group())[0], names):
                add(m.span())
    needles = [n for n in (*identity.address_lines, *(f for d in identity.dates for f in _date_forms(d)))
               if n in folded]
    if needles:
        folded_text, positions = _folded_with_positions(text)
        for needle in needles:
            start = folded_text.find(needle)
            while start != -1:
                add((positions[start], positions[start + len(needle) - 1] + 1))
                start = folded_text.find(needle, start + 1)
    return found


_CAPITALISED = re.compile(r"(?<![^\W_])[A-ZÀ-ÖØ-Þ][^\W\d_]{4,}")


_NON_LATIN = re.compile(r"[^\W\d_]*[\u0370-\u1DFF\u2C00-\uD7FF\uF900-\uFFEF][^\W\d_]*")
_MIXED_ID = re.compile(r"\b(?:[A-Za-z]+\d|\d+[A-Za-z])[A-Za-z\d]*\b")


def _trigger(needle: str) -> re.Pattern:
    return re.compile(rf"(?i:\b{re.escape(needle)})\s+(?:(?i:de|du|d'|d’)\s*)?"
                      rf"(?:(?:M\.|Mme|Mlle|Monsieur|Madame)\s+)?({_NAME_RUN})", re.UNICODE)


# (what the lower-cased text must contain, the pattern then run): substring checks first, so
# that a text without any trigger costs a few memchr calls rather than regex alternations.
_TRIGGERS: tuple[tuple[tuple[str, ...], re.Pattern], ...] = (
    (("m.", "mm.", "mr", "mme", "mlle", "me ", "monsieur", "madame", "mademoiselle", "dr"), _HONORIFIC),
    (("né", "nee", "ne le", "ne a", "ne à", "nes ", "nés"), _BORN),
    *(((phrase.lower(),), _trigger(phrase)) for phrase in _KIN.split("|")),
)


@lru_cache(maxsize=20_000)
def _generic_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Passages masked whoever the person is (cached: event descriptions repeat)."""
    found: list[tuple[int, int]] = []
    add = found.append
    if "@" in text:
        for m in _EMAIL.finditer(text):
            add(m.span())
    for m in _DIGIT_RUN.finditer(text):
        raw = m.group()
        if len(raw) >= 6 and sum(c.isdigit() for c in raw) >= 6:
            add(m.span())
    for m in _MIXED_ID.finditer(text):
        word = m.group()
        # Letters and digits mixed, five digits or more: a passport or document number (12AB34567).
        if len(word) >= 8 and sum(c.isdigit() for c in word) >= 5:
            add(m.span())
    for pattern in (_TEXT_DATE, _STREET, _POSTCODE_CITY):
        for m in pattern.finditer(text):
            add(m.span())
    lowered = text.lower()
    for needles, pattern in _TRIGGERS:
        if any(n in lowered for n in needles):
            for hit in pattern.finditer(text):
                for group in range(1, (hit.lastindex or 0) + 1):
                    if hit.group(group):
                        _add_name_run(text, hit.start(group), hit.end(group), add)
    if not text.isascii():
        for m in _NON_LATIN.finditer(text):
            add(m.span())
    return tuple(found)


def _add_name_run(text: str, start: int, end: int, add) -> None:
    """Mask the capitalised words of a run found after a trigger, stopping at a word that is
    not a name (« Passeport de Anya Kowalczyk », not « … France Travail »)."""
    for m in _PART.finditer(text, start, end):
        word = m.group()
        if _fold(word) in _NOT_NAMES:
            if m.start() == start:
                return
            continue
        if word[0].isupper() or _non_latin(word):
            add(m.span())


def _folded_with_positions(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    positions: list[int] = []
    for i, c in enumerate(text):
        folded = _fold(c) if not c.isascii() else c.lower()
        out.append(folded)
        positions.extend([i] * len(folded))
    return "".join(out), positions


def masked_spans(text: str, identity: Identity = NO_IDENTITY) -> list[tuple[int, int]]:
    """The sorted, merged passages mask() replaces (neighbours separated by spaces or hyphens
    become one). Search uses them to index only the words outside."""
    if not text:
        return []
    found = spans(text, identity)
    if not found:
        return []
    found.sort()
    merged: list[list[int]] = []
    for start, end in found:
        if merged and (start <= merged[-1][1] or not text[merged[-1][1]:start].strip(" \u00a0-'’")):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def apply(text: str, passages: list[tuple[int, int]]) -> str:
    """The text with these passages (from masked_spans) replaced by « […] »."""
    if not passages:
        return text
    out, last = [], 0
    for start, end in passages:
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)


def mask(text: str, identity: Identity = NO_IDENTITY) -> str:
    """The text with every identifying passage replaced by « […] » (neighbouring ones merged)."""
    return apply(text, masked_spans(text, identity)) if text else text


def masker(person) -> Callable[[str], str]:
    """mask() bound to one person's keys."""
    identity = identity_of(person)
    return lambda text: mask(text or "", identity)


def redactor(case, show_identity: bool) -> Callable[[str], str]:
    """What templates call on free text: as typed for roles with identity.view, masked otherwise."""
    if show_identity:
        return lambda text: text
    return masker(getattr(case, "person", None))
