"""French text analysis shared by indexing, querying and excerpts: folding, stemming, shingles."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from whoosh.lang.snowball.french import FrenchStemmer
from whoosh.lang.stopwords import stoplists

# A word, or a compound joined by - ' ’ . / @ + _ (rendez-vous, 2025-CCC-884213, l'API, a.b@c.fr).
WORD = re.compile(r"\w+(?:[-'’./@+_]\w+)*")
SEPARATORS = re.compile(r"[-'’./@+_]")
ELISIONS = frozenset({"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"})

# Letters that Unicode decomposition does not reduce to a base letter.
_EXTRA_FOLD = str.maketrans({
    "œ": "oe", "æ": "ae", "ß": "ss", "đ": "d", "ð": "d", "ø": "o", "ł": "l", "ı": "i", "ħ": "h",
    "þ": "th", "’": "'", "ʼ": "'",
    # Arabic: alef variants, teh marbuta, alef maksura, tatweel (as search engines normalise them).
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ـ": "",
})

# Cyrillic → Latin (names typed either way by volunteers: Иванов / Ivanov).
_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
    "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "i", "є": "ie", "ґ": "g",
})

_stemmer = FrenchStemmer()


# One translation table: combining marks dropped, then the extra letters (a C-level pass).
_FOLD_TABLE = {cp: None for cp in range(0x300, 0x10000) if unicodedata.combining(chr(cp))}
_FOLD_TABLE.update(_EXTRA_FOLD)


def fold(text: str) -> str:
    """Lower case, strip accents and diacritics in every script, normalise a few letters."""
    return unicodedata.normalize("NFKD", text.lower()).translate(_FOLD_TABLE)


@lru_cache(maxsize=300_000)
def fold_word(word: str) -> str:
    """fold() of one word, cached: the vocabulary of a corpus is small."""
    return fold(word)


@lru_cache(maxsize=300_000)
def part_keys(part: str) -> tuple[str, str, tuple[str, ...]]:
    """(folded, Latin spelling of Cyrillic or '', index forms) of one word, for highlighting."""
    folded = fold(part)
    return folded, transliterate(folded), word_forms(part.lower())


STOP_WORDS = frozenset(fold(w) for w in stoplists["fr"])


def transliterate(folded: str) -> str:
    """Latin spelling of a folded Cyrillic word ('' if it has no Cyrillic letter)."""
    latin = folded.translate(_CYRILLIC)
    return latin if latin != folded else ""


def _trim(stem: str) -> str:
    # Snowball expects accents; on folded words "-ée" stays "-e" (licenciee → licencie) while
    # "licenciement" → "licenci". Dropping one final "e" makes both sides meet.
    return stem[:-1] if len(stem) > 3 and stem.endswith("e") else stem


@lru_cache(maxsize=300_000)
def word_forms(word: str) -> tuple[str, ...]:
    """Index terms of one lower-cased word (no separators): folded stems, or () for a stop word.

    Two stems are kept when they differ: the stem of the folded word (so that accented and
    unaccented spellings always meet, since both fold to the same string) and the folded stem of
    the accented word (which snowball stems better: récépissé → recepiss).
    """
    folded = fold(word)
    if not folded or folded in STOP_WORDS:
        return ()
    if any(c.isdigit() for c in folded) or len(folded) < 3:
        return (folded,)
    primary = _trim(_stemmer.stem(folded))
    if folded == word:
        return (primary,)
    accented = _trim(fold(_stemmer.stem(word)))
    return (primary,) if accented == primary else (primary, accented)


def primary_form(word: str) -> str:
    forms = word_forms(word)
    return forms[0] if forms else ""


@lru_cache(maxsize=100_000)
def _compound(raw: str) -> tuple[str, tuple[str, ...]]:
    """(whole folded compound or '', parts) after dropping French elisions (l', d', qu'…)."""
    lower = raw.lower().replace("’", "'")
    parts = [p for p in SEPARATORS.split(lower) if p]
    while len(parts) > 1 and "'" in lower and parts[0] in ELISIONS:
        lower = lower.split("'", 1)[1]
        parts = parts[1:]
    if len(parts) <= 1:
        return "", tuple(parts)
    return fold(lower), tuple(parts)


def units(text: str):
    """Yield (start, end, whole, parts) for each word or compound of the text, with offsets."""
    for match in WORD.finditer(text):
        whole, parts = _compound(match.group())
        yield match.start(), match.end(), whole, parts


def unit_terms(whole: str, parts: tuple[str, ...]) -> list[str]:
    """Index terms of one unit: the whole compound (unstemmed) and the forms of each part."""
    terms = [whole] if whole else []
    for part in parts:
        terms.extend(word_forms(part))
    return terms


def unit_key(whole: str, parts: tuple[str, ...]) -> str:
    """One canonical term per unit, used to build shingles (phrases)."""
    if whole:
        return whole
    return primary_form(parts[0]) if parts else ""


@lru_cache(maxsize=500_000)
def _token(raw: str) -> tuple[str, frozenset[str], tuple[str, ...], str, str, bool]:
    """Everything text_terms needs of one word or compound, computed once per distinct spelling:
    (whole, folded parts, index terms, shingle key, the single part or '', holds a digit)."""
    whole, parts = _compound(raw)
    return (whole, frozenset(fold_word(p) for p in parts), tuple(unit_terms(whole, parts)), unit_key(whole, parts),
            parts[0] if len(parts) == 1 else "", bool(whole) and any(c.isdigit() for c in whole))


def text_terms(text: str, skip=None, identifiers: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(terms, shingles) of a text. Shingles join consecutive non-stop units: 'titr sejour'.

    `skip` = (folded names, numbers, emails): units carrying a person's own values are left out
    (they are searchable only through the personal field).
    `identifiers`: if given, compounds holding digits (2025-CCC-884213, FX-9087, a date) are
    left out too and their terms appended to it (what roles without identity must not match).
    """
    terms: list[str] = []
    shingles: list[str] = []
    previous = ""
    names, numbers, emails = skip or ((), (), ())
    for match in WORD.finditer(text):
        whole, folded, unit, key, single, has_digit = _token(match.group())
        if skip and ((names and not folded.isdisjoint(names)) or (whole and whole in emails)
                     or (single and single in numbers)):
            previous = ""
            continue
        if identifiers is not None and has_digit:
            identifiers.extend(unit)
            previous = ""
            continue
        terms.extend(unit)
        if not key:
            continue  # stop words are skipped, as in a phrase search that ignores them
        if previous:
            shingles.append(f"{previous}_{key}")
        previous = key
    return terms, shingles


def split_terms(text: str, masked: list[tuple[int, int]], skip=None):
    """One pass over a text of which `masked` passages (sorted (start, end)) are hidden from roles
    without identity: (public terms, public shingles, full terms, full shingles).

    Public: the units outside the passages, without compounds holding digits, shingles broken at
    each passage. Full: text_terms(text, skip), what identity roles find.
    """
    public: list[str] = []
    public_shingles: list[str] = []
    full: list[str] = []
    full_shingles: list[str] = []
    previous = public_previous = ""
    names, numbers, emails = skip or ((), (), ())
    passages = iter(masked)
    current = next(passages, None)
    for match in WORD.finditer(text):
        start, end = match.span()
        while current is not None and current[1] <= start:
            current = next(passages, None)
        hidden = current is not None and current[0] < end
        whole, folded, unit, key, single, has_digit = _token(match.group())
        if skip and ((names and not folded.isdisjoint(names)) or (whole and whole in emails)
                     or (single and single in numbers)):
            previous = public_previous = ""
            continue
        full.extend(unit)
        if key:
            if previous:
                full_shingles.append(f"{previous}_{key}")
            previous = key
        if hidden or has_digit:
            public_previous = ""
            continue
        public.extend(unit)
        if key:
            if public_previous:
                public_shingles.append(f"{public_previous}_{key}")
            public_previous = key
    return public, public_shingles, full, full_shingles


def name_terms(text: str) -> list[str]:
    """Terms of a person's names: folded words, unstemmed, plus a Latin spelling of Cyrillic."""
    terms = []
    for match in WORD.finditer(text):
        for part in SEPARATORS.split(match.group()):
            folded = fold_word(part)
            if folded:
                terms.append(folded)
                latin = transliterate(folded)
                if latin:
                    terms.append(latin)
    return terms


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def phone_terms(phone: str) -> list[str]:
    """A phone number findable however it is typed: 06 12 34 56 78, 0612345678, +33 6 12…"""
    number = digits(phone)
    if not number:
        return []
    terms = [number]
    if number.startswith("33") and len(number) == 11:
        terms.append("0" + number[2:])
    elif number.startswith("0") and len(number) == 10:
        terms.append("33" + number[1:])
    return terms


TF_CAP = 3


def join_terms(terms) -> str:
    """Index value for a pre-analysed field (whoosh splits it on spaces).

    Each term is kept at most TF_CAP times: ranking is TF-IDF (whoosh can skip whole posting
    blocks with it, unlike BM25), and the cap gives it BM25's saturation: a word repeated by an
    OCR'd page does not outweigh a rarer word of the query. Order does not matter to the index.
    """
    counts = Counter(terms)
    counts.pop("", None)
    return " ".join(term.replace(" ", "_") if count == 1 else " ".join([term.replace(" ", "_")] * min(count, TF_CAP))
                    for term, count in counts.items())


def count_terms(terms) -> dict[bytes, int]:
    """What join_terms gives, counted: {UTF-8 term: frequency capped at TF_CAP} (bulk loading)."""
    counts = Counter(terms)
    counts.pop("", None)
    return {term.replace(" ", "_").encode("utf-8"): min(count, TF_CAP) for term, count in counts.items()}
