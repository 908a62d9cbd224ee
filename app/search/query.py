"""The search box language: words (all required), "a phrase", -excluded, prefix*, OU between words.

Anything else is text: a query never fails to parse, it may only end up with no usable word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from whoosh import query as wq

from app.search import analysis

MAX_CHARS = 500
MAX_CLAUSES = 24
CHUNK = re.compile(r'"[^"]*"?|\S+')
OR_WORDS = frozenset({"OR", "OU"})
AND_WORDS = frozenset({"AND", "ET"})
NOT_WORDS = frozenset({"NOT", "SAUF"})


@dataclass
class Clause:
    """One thing to find: a word or compound (whole + parts), a phrase, or a prefix."""

    kind: str  # "word" | "phrase" | "prefix"
    units: list[tuple[str, tuple[str, ...]]]

    def highlight_terms(self) -> tuple[set[str], set[str], set[str]]:
        """(terms, weak terms, prefixes) whose occurrences an excerpt should mark; weak terms
        are the parts of a compound (2025, ccc in 2025-CCC-884213) and rank an excerpt lower."""
        terms: set[str] = set()
        weak: set[str] = set()
        prefixes: set[str] = set()
        for whole, parts in self.units:
            if self.kind == "prefix":
                prefixes.add(analysis.fold(parts[0]))
                continue
            target = weak if whole else terms
            if whole:
                terms.add(whole)
            for part in parts:
                forms = analysis.word_forms(part)
                target.update(forms)
                if forms:
                    target.add(analysis.fold(part))
        return terms, weak - terms, prefixes


@dataclass
class ParsedQuery:
    groups: list[list[Clause]] = field(default_factory=list)  # AND of groups, OR inside a group
    negatives: list[Clause] = field(default_factory=list)
    truncated: bool = False
    blank: bool = True  # nothing typed at all

    @property
    def empty(self) -> bool:
        return not self.groups

    def clauses(self) -> list[Clause]:
        return [c for g in self.groups for c in g]


def _clauses_of(chunk: str) -> list[Clause]:
    if chunk.startswith('"'):
        inner = chunk.strip('"')
        units = [(w, p) for _s, _e, w, p in analysis.units(inner)]
        keyed = [u for u in units if analysis.unit_key(*u)]
        if len(keyed) > 1:
            return [Clause("phrase", units)]
        return [Clause("word", [u]) for u in keyed]
    if chunk.endswith("*"):
        stem = chunk.rstrip("*")
        found = [(w, p) for _s, _e, w, p in analysis.units(stem)]
        if len(found) == 1 and not found[0][0] and len(analysis.fold(found[0][1][0])) >= 3:
            return [Clause("prefix", found)]
        chunk = stem
    return [Clause("word", [(w, p)]) for _s, _e, w, p in analysis.units(chunk)
            if analysis.unit_terms(w, p)]


def parse(text: str | None) -> ParsedQuery:
    """Parse what was typed in the search box."""
    text = (text or "").strip()
    parsed = ParsedQuery(blank=not text)
    if len(text) > MAX_CHARS:
        text, parsed.truncated = text[:MAX_CHARS], True
    join_next = negate_next = False
    count = 0
    for chunk in CHUNK.findall(text):
        if chunk in OR_WORDS:
            join_next = bool(parsed.groups)
            continue
        if chunk in AND_WORDS:
            continue
        if chunk in NOT_WORDS:
            negate_next = True
            continue
        negated = negate_next or (chunk.startswith("-") and len(chunk) > 1)
        negate_next = False
        clauses = _clauses_of(chunk.lstrip("-") if chunk.startswith("-") else chunk)
        for clause in clauses:
            count += 1
            if count > MAX_CLAUSES:
                parsed.truncated = True
                break
            if negated:
                parsed.negatives.append(clause)
            elif join_next and parsed.groups:
                parsed.groups[-1].append(clause)
            else:
                parsed.groups.append([clause])
            join_next = False
    return parsed


def _text_terms(term: str, identity: bool, field: str = "text", boost: float = 1.0) -> list[wq.Query]:
    """The term in the public field, and for identity roles in the private one too."""
    found = [wq.Term(field, term, boost=boost)]
    if identity:
        found.append(wq.Term("p" + field, term, boost=boost))
    return found


def _word_query(whole: str, parts: tuple[str, ...], identity: bool, person: bool = True) -> wq.Query | None:
    options: list[wq.Query] = []
    if whole:
        options.extend(_text_terms(whole, identity))
        part_queries = [_word_query("", (p,), identity, person=False) for p in parts]
        part_queries = [q for q in part_queries if q is not None]
        if part_queries:
            options.append(wq.And(part_queries))
        options.append(wq.Term("ref", whole, boost=4.0))
        if "-" in whole:
            options.append(wq.Term("refpre", whole, boost=2.0))
        if identity:
            options.append(wq.Term("person", whole, boost=2.0))
            names = [q for q in (_person_word(p) for p in parts) if q is not None]
            if names:
                options.append(wq.And(names))
    else:
        for form in analysis.word_forms(parts[0]):
            options.extend(_text_terms(form, identity))
        if identity and person:
            own = _person_word(parts[0])
            if own is not None:
                options.append(own)
    if not options:
        return None
    return options[0] if len(options) == 1 else wq.Or(options)


def _person_word(part: str) -> wq.Query | None:
    folded = analysis.fold(part)
    if not folded:
        return None
    terms = [wq.Term("person", folded, boost=2.0)]
    latin = analysis.transliterate(folded)
    if latin:
        terms.append(wq.Term("person", latin, boost=2.0))
    return terms[0] if len(terms) == 1 else wq.Or(terms)


def clause_query(clause: Clause, identity: bool) -> wq.Query | None:
    """The whoosh query of one clause; personal fields only when `identity` is True."""
    if clause.kind == "prefix":
        folded = analysis.fold(clause.units[0][1][0])
        options: list[wq.Query] = [wq.Prefix("text", folded), wq.Prefix("ref", folded)]
        if identity:
            options.extend([wq.Prefix("ptext", folded), wq.Prefix("person", folded)])
        return wq.Or(options)
    if clause.kind == "phrase":
        keys = [analysis.unit_key(*u) for u in clause.units]
        keys = [k for k in keys if k]
        # Shingles (pairs of neighbouring words) turn a phrase into plain term lookups: whoosh
        # would otherwise read positions for every document holding all the words.
        shingles = [wq.Or(_text_terms(f"{a}_{b}", True, "shingle")) if identity else wq.Term("shingle", f"{a}_{b}")
                    for a, b in zip(keys, keys[1:], strict=False)]
        options = [wq.And(shingles) if len(shingles) > 1 else shingles[0]]
        if identity:
            names = [_person_word(p) for _w, parts in clause.units for p in parts if analysis.word_forms(p)]
            names = [n for n in names if n is not None]
            if names:
                options.append(wq.And(names))
        return options[0] if len(options) == 1 else wq.Or(options)
    whole, parts = clause.units[0]
    return _word_query(whole, parts, identity)


def build(parsed: ParsedQuery, identity: bool, any_group: bool = False) -> wq.Query | None:
    """AND (or OR when `any_group`) of the groups, minus the excluded clauses."""
    groups = []
    for group in parsed.groups:
        options = [q for q in (clause_query(c, identity) for c in group) if q is not None]
        if options:
            groups.append(options[0] if len(options) == 1 else wq.Or(options))
    if not groups:
        return None
    positive = groups[0] if len(groups) == 1 else (wq.Or(groups) if any_group else wq.And(groups))
    negatives = [q for q in (clause_query(c, identity) for c in parsed.negatives) if q is not None]
    if negatives:
        positive = wq.AndNot(positive, negatives[0] if len(negatives) == 1 else wq.Or(negatives))
    return positive
