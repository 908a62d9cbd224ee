"""The whoosh index of one data directory: schema, one searcher per process, locked writes.

Whoosh-Reloaded 2.7.5's `Searcher.refresh()` reuses segment readers whose deletions have
changed and re-adds merged-away segments (updated cases then appear twice, deleted ones stay):
this module never calls it and reopens only the segments that changed.
"""

from __future__ import annotations

import copy
import fcntl
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from whoosh import columns, fields, index, scoring
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.index import LockError
from whoosh.reading import MultiReader, SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import CLEAR

# Bump when the schema or the analysis changes: the index is then rebuilt at start-up.
SCHEMA_VERSION = "constat-search-5"
# TF-IDF rather than whoosh's default BM25F: with it whoosh skips posting blocks that cannot
# reach the top 20 (measured at 10,000 cases: "préfecture" top 20 in 5 ms instead of 35 ms).
# Term frequencies are capped at indexing (analysis.TF_CAP) for BM25-like saturation.
WEIGHTING = scoring.TF_IDF()
VERSION_FILE = "constat-schema-version"


def _terms_field() -> fields.TEXT:
    # Terms are analysed by app.search.analysis; whoosh only splits on spaces and counts them.
    return fields.TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=False)


def schema() -> fields.Schema:
    return fields.Schema(
        cid=fields.ID(unique=True),
        # Columns only (no postings): docnum → case id, and the opening date for sorting.
        case_id=fields.COLUMN(columns.NumericColumn("q")),
        org=fields.ID(),
        pref=fields.ID(),
        code=fields.KEYWORD(),
        status=fields.ID(),
        dem=fields.ID(),
        opened=fields.COLUMN(columns.NumericColumn("i")),
        ref=fields.ID(),
        refpre=fields.KEYWORD(),
        text=_terms_field(),
        shingle=_terms_field(),
        person=_terms_field(),
    )


class IndexUnavailable(Exception):
    """The index is missing, corrupt, out of date or being rebuilt."""


class SearcherCache:
    """Data derived from one searcher (posting sets of filter values, columns), built lazily."""

    def __init__(self, searcher: Searcher):
        self.searcher = searcher
        self.reader = searcher.reader()
        self._sets: dict[tuple[str, str], frozenset[int]] = {}
        self.deleted = frozenset(
            offset + docnum for leaf, offset in self.reader.leaf_readers()
            if leaf.has_deletions() for docnum in leaf.deleted_docs_set)
        self._values: dict[str, list[str]] = {}
        self._columns: dict[str, list] = {}
        self._lock = threading.Lock()

    def docs(self, field: str, value: str) -> frozenset[int]:
        key = (field, value)
        found = self._sets.get(key)
        if found is None:
            found = frozenset(self.reader.postings(field, value).all_ids()) - self.deleted \
                if self.reader.doc_count_all() and (field, value) in self.reader else frozenset()
            with self._lock:
                self._sets[key] = found
        return found

    def values(self, field: str) -> list[str]:
        found = self._values.get(field)
        if found is None:
            found = list(self.reader.field_terms(field))
            self._values[field] = found
        return found

    def column(self, field: str) -> list:
        found = self._columns.get(field)
        if found is None:
            found = list(self.reader.column_reader(field)) if self.reader.doc_count_all() else []
            self._columns[field] = found
        return found


class IndexHolder:
    """Per process and data directory: the open index, its searcher, its writer lock."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._ix = None
        self._searcher: Searcher | None = None
        self._cache: SearcherCache | None = None
        self.rebuilding = False
        self.last_error = ""

    # --- state -----------------------------------------------------------------------------

    @property
    def rebuild_lock_path(self) -> Path:
        return self.path.parent / (self.path.name + ".rebuild.lock")

    def version_ok(self) -> bool:
        try:
            return (self.path / VERSION_FILE).read_text().strip() == SCHEMA_VERSION
        except OSError:
            return False

    def rebuild_running_elsewhere(self) -> bool:
        """True if another process holds the rebuild lock."""
        if self.rebuilding:
            return True
        if not self.rebuild_lock_path.exists():
            return False
        with open(self.rebuild_lock_path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
        return False

    def _open(self):
        if self._ix is None:
            if not self.version_ok() or not index.exists_in(str(self.path)):
                raise IndexUnavailable("missing")
            self._ix = index.open_dir(str(self.path))
        return self._ix

    def forget(self) -> None:
        with self._lock:
            self._ix = None
            self._searcher = None
            self._cache = None

    # --- reading ---------------------------------------------------------------------------

    def cache(self) -> SearcherCache:
        """The cache of the current searcher, reopened if the index changed on disk."""
        with self._lock:
            if self._searcher is not None and self._ix is not None:
                try:
                    if self._ix.latest_generation() == self._searcher.reader().generation():
                        return self._cache
                except OSError:
                    pass
            # A writer in another process may merge away a segment between our reading the
            # table of contents and opening it: retry before calling the index corrupt.
            for attempt in range(4):
                failure = ""
                with _quiet_leaks() as leaks:
                    try:
                        self._refresh()
                    except IndexUnavailable:
                        raise
                    except Exception as exc:  # corrupt or half-written index
                        failure = leaks.failure = type(exc).__name__
                if not failure:
                    return self._cache
                self.forget()
                time.sleep(0.05 * (attempt + 1))
            raise IndexUnavailable(failure)

    def _refresh(self) -> None:
        ix = self._open()
        generation = ix.latest_generation()
        if self._searcher is None or self._searcher.reader().generation() != generation:
            toc = ix._read_toc()
            old = self._searcher.reader() if self._searcher is not None else None
            reader = fresh_reader(ix.storage, toc.schema, toc.segments, toc.generation, old)
            self._searcher = Searcher(reader, fromindex=ix, weighting=WEIGHTING)
            self._cache = SearcherCache(self._searcher)

    # --- writing ---------------------------------------------------------------------------

    @contextmanager
    def writer(self, timeout: float):
        """A whoosh writer holding the index lock (waiting up to `timeout` seconds for it)
        and a cache of the same generation to find documents to delete. Commits on exit."""
        ix = self._open()
        deadline = time.monotonic() + timeout
        while True:
            try:
                writer = ix.writer(timeout=min(1.0, max(0.0, deadline - time.monotonic())), delay=0.02)
                break
            except LockError:
                if time.monotonic() >= deadline:
                    raise
        try:
            cache = self.cache()
            if cache.reader.generation() != writer.generation - 1:
                cache = None  # should not happen while we hold the lock
            yield writer, cache
        except BaseException:
            writer.cancel()
            raise
        else:
            writer.commit()

    def replace_documents(self, documents: dict[int, dict | None], timeout: float) -> None:
        """Delete each case's document and add its new version (None: only delete)."""
        with self.writer(timeout) as (writer, cache):
            for case_id, document in documents.items():
                if cache is not None:
                    for docnum in cache.reader.postings("cid", str(case_id)).all_ids() \
                            if ("cid", str(case_id)) in cache.reader else ():
                        writer.delete_document(docnum)
                else:
                    writer.delete_by_term("cid", str(case_id))
                if document is not None:
                    writer.add_document(**document)

    # --- rebuilding ------------------------------------------------------------------------

    @contextmanager
    def rebuild_lock(self, wait: bool):
        """Exclusive rebuild across processes; yields False if busy and wait is False."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.rebuild_lock_path, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def rebuild(self, documents, timeout: float = 600.0) -> int:
        """Replace the whole index by `documents` (an iterable of whoosh documents).

        An index that opens is rebuilt in place under its write lock (searchers keep the old
        generation until the commit); a missing or corrupt one is recreated first.
        """
        with self._lock:
            self.forget()
            ix = self._open_for_rebuild()
            if ix is None:
                if self.path.exists():
                    shutil.rmtree(self.path)
                self.path.mkdir(parents=True)
                ix = index.create_in(str(self.path), schema())
        writer = ix.writer(timeout=timeout, delay=0.05, limitmb=256)
        count = 0
        try:
            for document in documents:
                writer.add_document(**document)
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=CLEAR)
        tmp = self.path / (VERSION_FILE + f".{os.getpid()}")
        tmp.write_text(SCHEMA_VERSION)
        tmp.replace(self.path / VERSION_FILE)
        self.forget()
        return count

    def _open_for_rebuild(self):
        """The existing index if it opens with the current schema, else None."""
        with _quiet_leaks() as leaks:
            try:
                if not index.exists_in(str(self.path)):
                    return None
                ix = index.open_dir(str(self.path))
                if sorted(ix.schema.names()) != sorted(schema().names()):
                    return None
                ix.reader().close()  # raises on missing or unreadable segments
                return ix
            except Exception as exc:
                leaks.failure = type(exc).__name__
                return None

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.glob("*") if p.is_file())


@contextmanager
def _quiet_leaks():
    """whoosh leaves files open when it fails to read a corrupt index: close them on the way
    out without a ResourceWarning per file (only used when (re)opening, not per search)."""
    import gc
    import warnings

    class Leaks:
        failure = ""

    leaks = Leaks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            yield leaks
        finally:
            if leaks.failure:
                gc.collect()  # a full collection costs ~100 ms with a large index open: failures only


class SearchSegmentReader(SegmentReader):
    """A segment reader whose postings do not skip deleted documents.

    whoosh wraps every posting list of a segment with deletions in a pure-Python filter, which
    made an intersection query 3x slower after a single update. Deleted documents are removed
    once per searcher instead (SearcherCache.deleted), from every set a search starts from.
    """

    def postings(self, fieldname, text, scorer=None):
        if self.is_closed:
            from whoosh.reading import ReaderClosed

            raise ReaderClosed
        if fieldname not in self.schema:
            from whoosh.reading import TermNotFound

            raise TermNotFound(f"No field {fieldname!r}")
        text = self._text_to_bytes(fieldname, text)
        return self._terms.matcher(fieldname, text, self.schema[fieldname].format, scorer=scorer)


def fresh_reader(storage, schema_, segments, generation, old=None):
    """A reader over `segments`, reusing the open segment readers of `old` when their files
    are the same; a segment that only gained deletions gets a shallow copy of its old reader
    pointing at the new deletion set (reopening a large segment costs tens of ms)."""
    reusable: dict[str, SegmentReader] = {}
    if old is not None:
        for leaf, _offset in old.leaf_readers():
            if isinstance(leaf, SegmentReader) and not leaf.is_closed:
                reusable[leaf.segment().segment_id()] = leaf
    readers = []
    for segment in segments:
        leaf = reusable.get(segment.segment_id())
        if leaf is None:
            reader = SearchSegmentReader(storage, schema_, segment, generation=generation)
        elif leaf.segment().deleted_count() == segment.deleted_count():
            reader = leaf
        else:
            reader = copy.copy(leaf)
            reader._segment = segment  # noqa: SLF001
            reader._perdoc = copy.copy(leaf._perdoc)  # noqa: SLF001
            reader._perdoc._segment = segment  # noqa: SLF001
            reader.__dict__.pop("deleted_docs_set", None)  # a cached_property of the old deletions
        readers.append(reader)
    if not readers:
        from whoosh.reading import EmptyReader

        return EmptyReader(schema_)
    if len(readers) == 1:
        reader = readers[0]
        if reader.generation() != generation:
            reader = copy.copy(reader)
            reader._gen = generation  # noqa: SLF001
        return reader
    return MultiReader(readers, generation=generation)
