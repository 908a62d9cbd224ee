"""Query evaluation over posting arrays: counts, facets and ranking with numpy.

whoosh reads and scores postings one document at a time in Python: at 100,000 cases a common
word (80,000 documents) cost hundreds of milliseconds to count, facet and rank. Here each
term's postings are read a block at a time into numpy arrays (cached per searcher), boolean
queries become mask operations, facets are counts over per-document value codes, and the top
hits come from a partial sort of the scores. The scores are whoosh's own TF-IDF (weight × idf ×
boost, summed over matching clauses), so the ranking is the one whoosh would give.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from whoosh import query as wq

CACHE_BYTES = 96 * 1024 * 1024  # posting arrays kept per process (the most recent first)
MAX_PREFIX_TERMS = 2000


class Postings:
    """Posting arrays (docnums, weights) of one searcher's reader, read a block at a time."""

    def __init__(self, reader):
        self.reader = reader
        self.leaves = list(reader.leaf_readers()) if reader.doc_count_all() else []
        self.size = reader.doc_count_all()
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        key = (field, text)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        found = self._read(field, text)
        with self._lock:
            self._cache[key] = found
            self._bytes += found[0].nbytes + found[1].nbytes
            while self._bytes > CACHE_BYTES and len(self._cache) > 1:
                _key, (ids, weights) = self._cache.popitem(last=False)
                self._bytes -= ids.nbytes + weights.nbytes
        return found

    def _read(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        id_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        for leaf, offset in self.leaves:
            found = _leaf_postings(leaf, field, text)
            if found is not None:
                id_parts.append(found[0] + offset if offset else found[0])
                weight_parts.append(found[1])
        if not id_parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        if len(id_parts) == 1:
            return id_parts[0], weight_parts[0]
        return np.concatenate(id_parts), np.concatenate(weight_parts)

    def mask(self, field: str, text: str) -> np.ndarray:
        result = np.zeros(self.size, dtype=bool)
        ids, _weights = self.get(field, text)
        result[ids] = True
        return result


# Posting arrays per segment, shared by the searchers of this process: after an update only the
# new small segment is read again (a segment's postings never change; deletions are applied
# by the callers, from the searcher's own deletion set).
_LEAF_CACHE: OrderedDict[tuple[str, str, str], tuple[np.ndarray, np.ndarray] | None] = OrderedDict()
_LEAF_BYTES = [0]
_LEAF_LOCK = threading.Lock()


def _leaf_postings(leaf, field: str, text: str) -> tuple[np.ndarray, np.ndarray] | None:
    segment = getattr(leaf, "segment", None)
    key = (segment().segment_id(), field, text) if segment is not None else None
    if key is not None:
        with _LEAF_LOCK:
            if key in _LEAF_CACHE:
                _LEAF_CACHE.move_to_end(key)
                return _LEAF_CACHE[key]
    found = _read_leaf(leaf, field, text)
    if key is not None:
        with _LEAF_LOCK:
            if key not in _LEAF_CACHE:
                _LEAF_CACHE[key] = found
                _LEAF_BYTES[0] += 64 + (found[0].nbytes + found[1].nbytes if found is not None else 0)
            while _LEAF_BYTES[0] > CACHE_BYTES and len(_LEAF_CACHE) > 1:
                _key, old = _LEAF_CACHE.popitem(last=False)
                _LEAF_BYTES[0] -= 64 + (old[0].nbytes + old[1].nbytes if old is not None else 0)
    return found


def _read_leaf(leaf, field: str, text: str) -> tuple[np.ndarray, np.ndarray] | None:
    """One segment's postings of a term (segment-local docnums), None if it has none."""
    if (field, text) not in leaf:
        return None
    id_blocks: list[np.ndarray] = []
    weight_blocks: list[np.ndarray] = []
    matcher = leaf.postings(field, text)
    # W3LeafMatcher's blocks: delta-encoded ids and weights (None: all 1.0; a float: all
    # the same), as whoosh's _read_ids/_read_weights decode them.
    while True:
        matcher._read_data()  # noqa: SLF001
        deltas, weights = matcher._data[0], matcher._data[1]  # noqa: SLF001
        ids = np.cumsum(np.asarray(deltas, dtype=np.int64))
        id_blocks.append(ids)
        if weights is None:
            weight_blocks.append(np.ones(len(ids), dtype=np.float32))
        elif isinstance(weights, float):
            weight_blocks.append(np.full(len(ids), weights, dtype=np.float32))
        else:
            weight_blocks.append(np.asarray(weights, dtype=np.float32))
        if matcher._lastblock:  # noqa: SLF001
            break
        matcher._goto(matcher._nextoffset)  # noqa: SLF001
    return np.concatenate(id_blocks), np.concatenate(weight_blocks)


def evaluate(query: wq.Query, postings: Postings, searcher) -> tuple[np.ndarray, np.ndarray]:
    """(matching mask, scores) of a query built by app.search.query (Term, Or, And, AndNot,
    Prefix), over every document of the reader (deleted ones included: callers mask them)."""
    size = postings.size
    boost = getattr(query, "boost", 1.0) or 1.0
    if isinstance(query, wq.Term):
        mask = np.zeros(size, dtype=bool)
        scores = np.zeros(size, dtype=np.float32)
        ids, weights = postings.get(query.fieldname, query.text)
        if len(ids):
            mask[ids] = True
            scores[ids] = weights * np.float32(searcher.idf(query.fieldname, query.text) * boost)
        return mask, scores
    if isinstance(query, wq.Prefix):
        mask = np.zeros(size, dtype=bool)
        reader = postings.reader
        if size and query.fieldname in reader.schema:
            for count, term in enumerate(reader.expand_prefix(query.fieldname, query.text)):
                if count >= MAX_PREFIX_TERMS:
                    break
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                ids, _weights = postings.get(query.fieldname, text)
                mask[ids] = True
        # whoosh scores a prefix query as a constant (its boost) for every match.
        return mask, mask.astype(np.float32) * np.float32(boost)
    if isinstance(query, wq.AndNot):
        mask, scores = evaluate(query.a, postings, searcher)
        excluded, _ = evaluate(query.b, postings, searcher)
        mask &= ~excluded
        scores[~mask] = 0
        return mask, scores
    if isinstance(query, (wq.And, wq.Or)):
        parts = [evaluate(sub, postings, searcher) for sub in query.subqueries]
        if not parts:
            return np.zeros(size, dtype=bool), np.zeros(size, dtype=np.float32)
        mask, scores = parts[0]
        for sub_mask, sub_scores in parts[1:]:
            if isinstance(query, wq.And):
                mask &= sub_mask
            else:
                mask |= sub_mask
            scores += sub_scores
        if isinstance(query, wq.And):
            scores[~mask] = 0
        if boost != 1.0:
            scores *= np.float32(boost)
        return mask, scores
    raise TypeError(f"unsupported query {type(query).__name__}")


def top(found: np.ndarray, scores: np.ndarray, count: int) -> np.ndarray:
    """Docnums of the `count` best scores among `found`, best first (ties: lower docnum first)."""
    docs = np.flatnonzero(found)
    if not len(docs) or count <= 0:
        return docs[:0]
    values = scores[docs]
    if len(docs) > count:
        # Keep every document tied with the last one kept, then order exactly.
        threshold = np.partition(values, len(values) - count)[len(values) - count]
        keep = values >= threshold
        docs, values = docs[keep], values[keep]
    order = np.lexsort((docs, -values))
    return docs[order][:count]


class Facets:
    """Per searcher: each facet field's values as codes per document, for counting."""

    def __init__(self, postings: Postings, fields: dict[str, list[str]], multi: set[str]):
        self.values = fields
        self.single: dict[str, np.ndarray] = {}
        self.multi: dict[str, list[np.ndarray]] = {}
        for field, values in fields.items():
            if field in multi:
                self.multi[field] = [postings.mask(field, v) for v in values]
            else:
                codes = np.full(postings.size, -1, dtype=np.int32)
                for index, value in enumerate(values):
                    ids, _weights = postings.get(field, value)
                    codes[ids] = index
                self.single[field] = codes

    def counts(self, field: str, found: np.ndarray) -> list[tuple[str, int]]:
        values = self.values[field]
        if field in self.single:
            counted = np.bincount(self.single[field][found] + 1, minlength=len(values) + 1)[1:]
        else:
            counted = [int(np.count_nonzero(mask & found)) for mask in self.multi[field]]
        return [(value, int(n)) for value, n in zip(values, counted, strict=True) if n]
