"""Highlighted excerpts: the passages of a case that match the query, HTML-escaped."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from app.search import analysis
from app.search.documents import Source

WINDOW = 200  # characters shown per excerpt
BEFORE = 60
MAX_SCAN = 60_000  # characters of one source scanned (long OCR texts)


@dataclass
class Excerpt:
    label: str
    html: Markup


class Highlighter:
    """Finds the query's words in texts (same analysis as the index) and marks them."""

    def __init__(self, terms: set[str], prefixes: set[str], weak: set[str] | None = None, words: int = 1):
        self.words = words
        self.strong = set(terms)
        self.terms = self.strong | (weak or set())
        self.prefixes = tuple(p for p in prefixes if p)
        # Cheap pre-check of a source: a folded ASCII text without the first letters of any
        # term cannot match (stems and compounds start like the words they come from).
        self._needles = tuple({t[:4] for t in self.terms | set(self.prefixes) if t})

    def could_match(self, text: str) -> bool:
        folded = analysis.fold(text[:MAX_SCAN])
        if not folded.isascii():
            return True  # Cyrillic, Arabic…: transliterated terms do not show in the folded text
        return any(n in folded for n in self._needles)

    def best_possible(self) -> int:
        return 10 * max(1, self.words)

    def _weight(self, keys: set[str]) -> int:
        return sum(10 if k in self.strong or k not in self.terms else 1 for k in keys)

    def _matches(self, text: str) -> list[tuple[int, int, str]]:
        found = []
        terms, prefixes = self.terms, self.prefixes
        for start, end, whole, parts in analysis.units(text[:MAX_SCAN]):
            key = ""
            if whole and whole in terms:
                key = whole
            else:
                for part in parts:
                    folded, latin, forms = analysis.part_keys(part)
                    if folded in terms:
                        key = folded
                        break
                    if latin and latin in terms:
                        key = latin
                        break
                    hit = next((f for f in forms if f in terms), "")
                    if hit:
                        key = hit
                        break
                    if prefixes and folded.startswith(prefixes):
                        key = folded
                        break
            if key:
                found.append((start, end, key))
        return found

    def excerpt(self, source: Source) -> tuple[int, Excerpt] | None:
        """(weight of the distinct query words found, excerpt) for the best window of the source."""
        if not self.could_match(source.text):
            return None
        matches = self._matches(source.text)
        if not matches:
            return None
        best, best_count = 0, 0
        for i, (start, _end, _key) in enumerate(matches):
            weight = self._weight({k for s, _e, k in matches[i:] if s < start + WINDOW - BEFORE})
            if weight > best_count:
                best, best_count = i, weight
        text = source.text
        begin = max(0, matches[best][0] - BEFORE)
        if begin:
            space = text.find(" ", begin, matches[best][0])
            begin = space + 1 if space != -1 else begin
        finish = min(len(text), begin + WINDOW)
        if finish < len(text):
            space = text.rfind(" ", max(begin, matches[best][1]), finish)
            finish = space if space != -1 else finish
        parts: list[str] = ["…" if begin else ""]
        cursor = begin
        for start, end, _key in matches[best:]:
            if start >= finish:
                break
            parts.append(escape(text[cursor:start]))
            parts.append(Markup("<mark>") + escape(text[start:min(end, finish)]) + Markup("</mark>"))
            cursor = min(end, finish)
        parts.append(escape(text[cursor:finish]))
        parts.append("…" if finish < len(text) else "")
        html = Markup("").join(escape(p) for p in parts)
        return best_count, Excerpt(source.label, Markup(" ").join(html.split()))


def excerpts(sources: list[Source], highlighter: Highlighter | None, limit: int = 2) -> list[Excerpt]:
    """The best `limit` excerpts of a case (most distinct query words first)."""
    if highlighter is None:
        return []
    scored = []
    best_possible = highlighter.best_possible()
    for order, source in enumerate(sources):
        found = highlighter.excerpt(source)
        if found is not None:
            scored.append((-found[0], order, found[1]))
            if sum(1 for s in scored if -s[0] >= best_possible) >= limit:
                break  # nothing later can rank higher
    scored.sort(key=lambda item: (item[0], item[1]))
    return [e for _c, _o, e in scored[:limit]]
