"""The whoosh index of one data directory: schema, one searcher per process, locked writes.

Whoosh-Reloaded 2.7.5's `Searcher.refresh()` reuses segment readers whose deletions have
changed and re-adds merged-away segments (updated cases then appear twice, deleted ones stay):
this module never calls it and reopens only the segments that changed.
"""

from __future__ import annotations

import copy
from array import array
import fcntl
import os
import shutil
import sys
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
SCHEMA_VERSION = "constat-search-7"
# TF-IDF rather than whoosh's default BM25F: with it whoosh skips posting blocks that cannot
# reach the top 20 (measured at 10,000 cases: "préfecture" top 20 in 5 ms instead of 35 ms).
# Term frequencies are capped at indexing (analysis.TF_CAP) for BM25-like saturation.
WEIGHTING = scoring.TF_IDF()
VERSION_FILE = "constat-schema-version"


def _terms_field() -> fields.TEXT:
    # Terms are analysed by app.search.analysis; whoosh only splits on spaces and counts them.
    return fields.TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=False)


# The pre-analysed fields (app.search.analysis wrote their terms, separated by spaces).
TERM_FIELDS = ("text", "shingle", "ptext", "pshingle", "person")


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
        # What every role finds (masked public text) …
        text=_terms_field(),
        shingle=_terms_field(),
        # … and what only roles with identity.view find on top of it (app/search/documents.py).
        ptext=_terms_field(),
        pshingle=_terms_field(),
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

    # --- numpy views (app/search/scan.py) --------------------------------------------------

    @property
    def postings(self):
        found = self.__dict__.get("_postings")
        if found is None:
            from app.search.scan import Postings

            found = self.__dict__["_postings"] = Postings(self.reader)
        return found

    def array(self, field: str):
        """A numeric column as a numpy array indexed by docnum."""
        import numpy as np

        key = ("array", field)
        found = self._columns.get(key)
        if found is None:
            found = self._columns[key] = np.asarray(self.column(field), dtype=np.int64)
        return found

    def live_mask(self, field: str, value: str):
        """Documents holding this value and not deleted (cached: org and filter values)."""
        key = ("mask", field, value)
        found = self._columns.get(key)
        if found is None:
            found = self.postings.mask(field, value)
            if self.deleted:
                found[list(self.deleted)] = False
            with self._lock:
                self._columns[key] = found
        return found

    def facets(self, fields: dict[str, str], multi: set[str]):
        found = self.__dict__.get("_facets")
        if found is None:
            from app.search.scan import Facets

            found = self.__dict__["_facets"] = Facets(
                self.postings, {name: self.values(name) for name in fields.values()}, multi)
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
        writer = self._rebuild_writer(timeout)
        count = 0
        try:
            bulk = BulkLoader(writer)
            for document in documents:
                bulk.add(document)
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=CLEAR)
        self._rebuilt()
        return count

    def rebuild_in_parts(self, parts: int, fill, poll, timeout: float = 600.0) -> int:
        """Replace the whole index with `parts` segments written side by side, each by a forked
        process: `fill(part, add)` adds that part's documents with `add` and returns how many.
        The parent holds the index's write lock and commits the segments together (whoosh's
        MpWriter with multisegment does the same), calling `poll()` about twice a second.

        On two cores this halves the serial part of a rebuild: the segment's postings were
        written by one process after the last document while the other core idled. Fork only
        from a single-threaded process (the caller checks)."""
        import multiprocessing
        import queue

        writer = self._rebuild_writer(timeout)
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        children = [context.Process(target=_write_part, args=(self.path, part, fill, results), daemon=True)
                    for part in range(parts)]
        segments: dict[int, tuple] = {}
        try:
            for child in children:
                child.start()
            while len(segments) < parts:
                try:
                    part, (ok, segment, count) = results.get(timeout=0.5)
                except queue.Empty:
                    # A child that ended without a result (killed, or its result lost) fails the
                    # rebuild; one that sent it may have exited already.
                    if any(c.exitcode is not None and i not in segments for i, c in enumerate(children)):
                        try:
                            part, (ok, segment, count) = results.get(timeout=1.0)
                        except queue.Empty:
                            raise RuntimeError("un processus de reconstruction s'est arrêté sans finir") from None
                    else:
                        poll()
                        continue
                if not ok:
                    raise RuntimeError(segment)
                segments[part] = (segment, count)
                poll()
            for child in children:
                child.join()
        except BaseException:
            for child in children:
                if child.is_alive():
                    child.kill()
                    child.join()
            writer.cancel()
            raise
        # SegmentWriter.commit, with the children's segments instead of the writer's own, in the
        # order of the cases (ties in ranking go to the lower document number: stable results).
        try:
            writer._close_segment()  # noqa: SLF001
            writer._commit_toc([segments[part][0] for part in sorted(segments) if segments[part][1]])  # noqa: SLF001
        finally:
            writer._finish()  # noqa: SLF001
        self._rebuilt()
        return sum(count for _segment, count in segments.values())

    def _rebuild_writer(self, timeout: float):
        """A writer on the index if it opens with the current schema, else on a new empty one."""
        with self._lock:
            self.forget()
            ix = self._open_for_rebuild()
            if ix is None:
                if self.path.exists():
                    shutil.rmtree(self.path)
                self.path.mkdir(parents=True)
                ix = index.create_in(str(self.path), schema())
        return ix.writer(timeout=timeout, delay=0.05, limitmb=256)

    def _rebuilt(self) -> None:
        tmp = self.path / (VERSION_FILE + f".{os.getpid()}")
        tmp.write_text(SCHEMA_VERSION)
        tmp.replace(self.path / VERSION_FILE)
        self.forget()

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


def _write_part(path: Path, part: int, fill, results) -> None:
    """In a forked child: one segment of a rebuild, without the index lock (the parent holds
    it), like whoosh's multiprocessing sub-writers. Sends (part, (ok, segment or error, count))."""
    from whoosh.writing import SegmentWriter

    try:
        writer = SegmentWriter(index.open_dir(str(path)), _lk=False, limitmb=256)
        bulk = BulkLoader(writer)
        count = fill(part, bulk.add)
        if count:
            segment = writer._finalize_segment()  # noqa: SLF001
        else:
            writer.cancel()
            segment = None
        results.put((part, (True, segment, count)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        # The type only: a database error's text carries the statement's parameters (case data).
        results.put((part, (False, f"partie {part + 1} : {type(exc).__name__}", 0)))
        sys.exit(1)  # and no traceback on this process's stderr either


class _MemoryPool:
    """The postings of a rebuild, kept in memory per term in docnum order.

    whoosh's own pool pickles every posting to temporary runs and merge-sorts them back (half
    of a rebuild's time at 100,000 cases). Documents arrive in docnum order, so each term's
    list is already sorted: only the terms need sorting. A posting is one 64-bit integer
    (docnum, and an index into the few distinct (weight, value) pairs of this schema).
    """

    CODE_BITS = 6

    def __init__(self):
        self.terms: dict[tuple[str, bytes], array] = {}
        self.values: list[tuple[float, bytes]] = []
        self._codes: dict[tuple[float, bytes], int] = {}
        self.fieldnames: set[str] = set()

    def code(self, weight: float, vbytes: bytes) -> int:
        key = (weight, vbytes)
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = len(self.values)
            if code >= 1 << self.CODE_BITS:
                raise RuntimeError("too many distinct posting values for the bulk loader")
            self.values.append(key)
        return code

    def add(self, item) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        self.add_packed(fieldname, tbytes, (docnum << self.CODE_BITS) | self.code(weight, vbytes))

    def add_packed(self, fieldname: str, tbytes: bytes, packed: int) -> None:
        postings = self.terms.get((fieldname, tbytes))
        if postings is None:
            postings = self.terms[(fieldname, tbytes)] = array("q")
            self.fieldnames.add(fieldname)
        postings.append(packed)

    def iter_postings(self):
        values, bits, mask = self.values, self.CODE_BITS, (1 << self.CODE_BITS) - 1
        for key in sorted(self.terms):
            fieldname, tbytes = key
            for packed in self.terms[key]:
                weight, vbytes = values[packed & mask]
                yield fieldname, tbytes, packed >> bits, weight, vbytes

    def cleanup(self) -> None:
        self.terms.clear()


class _Lengths:
    """Field lengths of the documents being bulk-loaded (what whoosh reads back per posting
    from the segment's columns when writing term statistics)."""

    def __init__(self, docbase: int):
        self.docbase = docbase
        self.by_field: dict[str, array] = {}

    def set(self, fieldname: str, docnum: int, length: int) -> None:
        lengths = self.by_field.get(fieldname)
        if lengths is None:
            lengths = self.by_field[fieldname] = array("I")
        index = docnum - self.docbase
        if len(lengths) <= index:
            lengths.extend([0] * (index + 1 - len(lengths)))
        lengths[index] = length

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        lengths = self.by_field.get(fieldname)
        index = docnum - self.docbase
        return lengths[index] if lengths is not None and index < len(lengths) else default

    def close(self) -> None:
        pass


class BulkLoader:
    """Adds documents to a whoosh SegmentWriter the fast way (a rebuild only).

    The pre-analysed fields (terms separated by spaces) are counted with a Counter instead of
    whoosh's tokenizer and format objects; postings go to a _MemoryPool; the segment is written
    from it with lengths kept in memory. Other fields (ids, keywords, columns) take whoosh's
    own path. The result is the same segment whoosh would write.
    """

    def __init__(self, writer):
        from whoosh.system import pack_uint

        self.writer = writer
        writer.pool.cleanup()
        self.pool = writer.pool = _MemoryPool()
        self.lengths = _Lengths(writer.docnum)
        self._freq_codes = {f: self.pool.code(float(f), pack_uint(f)) for f in range(1, 64)}
        self._fast = {name for name in TERM_FIELDS if name in writer.schema}
        writer._flush_segment = self._flush_segment  # noqa: SLF001

    def _flush_segment(self) -> None:
        """What whoosh's FieldWriter.add_postings does, a block of postings at a time instead
        of one call per posting (the same bytes: blocks, statistics and term infos)."""
        writer, pool = self.writer, self.pool
        writer.perdocwriter.close()
        fieldwriter = writer.fieldwriter
        values, bits, mask = pool.values, _MemoryPool.CODE_BITS, (1 << _MemoryPool.CODE_BITS) - 1
        docbase = self.lengths.docbase
        current = None
        field_lengths = None
        for key in sorted(pool.terms):
            fieldname, tbytes = key
            if fieldname != current:
                if current is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(fieldname, writer.schema[fieldname])
                current = fieldname
                field_lengths = self.lengths.by_field.get(fieldname)
            fieldwriter.start_term(tbytes)
            postwriter = fieldwriter._postwriter  # noqa: SLF001
            limit = postwriter._blocklimit  # noqa: SLF001
            packed = pool.terms[key]
            total = len(packed)
            for start in range(0, total, limit):
                chunk = packed[start:start + limit]
                pairs = [values[p & mask] for p in chunk]
                ids = array("I", [p >> bits for p in chunk])
                weights = array("f", [w for w, _v in pairs])
                postwriter._ids = ids  # noqa: SLF001
                postwriter._weights = weights  # noqa: SLF001
                postwriter._values = [v for _w, v in pairs if v]  # noqa: SLF001
                postwriter._maxweight = max(0, max(w for w, _v in pairs))  # noqa: SLF001
                lengths = [field_lengths[d - docbase] for d in ids] if field_lengths is not None else []
                lengths = [n for n in lengths if n]
                postwriter._minlength = min(lengths) if lengths else None  # noqa: SLF001
                postwriter._maxlength = max(lengths) if lengths else 0  # noqa: SLF001
                if start + limit < total:
                    postwriter._write_block()  # noqa: SLF001
            fieldwriter.finish_term()
        if current is not None:
            fieldwriter.finish_field()
        fieldwriter.close()

    def add(self, fields_: dict) -> None:
        from collections import Counter

        writer, pool = self.writer, self.pool
        schema = writer.schema
        perdoc = writer.perdocwriter
        docnum = writer.docnum
        add_packed, freq_codes, base = pool.add_packed, self._freq_codes, docnum << _MemoryPool.CODE_BITS
        perdoc.start_doc(docnum)
        try:
            for fieldname in sorted(fields_):
                value = fields_[fieldname]
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    if fieldname in self._fast:
                        counted = value if isinstance(value, dict) else {
                            t.encode("utf-8"): n for t, n in Counter(value.split()).items()}
                        for tbytes, freq in counted.items():
                            add_packed(fieldname, tbytes, base | freq_codes[min(freq, 63)])
                            length += freq
                    else:
                        for tbytes, freq, weight, vbytes in field.index(value):
                            if field.scorable:
                                length += freq
                            pool.add((fieldname, tbytes, docnum, weight, vbytes))
                    if field.scorable:
                        self.lengths.set(fieldname, docnum, length)
                perdoc.add_field(fieldname, field, None if not field.stored or isinstance(value, dict) else value,
                                 length)
                column = field.column_type
                if column:
                    perdoc.add_column_value(fieldname, column, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        writer._added = True  # noqa: SLF001
        writer.docnum += 1


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
