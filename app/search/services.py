"""Full-text search over cases (whoosh): follow committed changes, rebuild, query with facets.

The database stays the truth. Changes reach the index through the IndexOutbox rows written in
the same transaction (app.cases.services.enqueue_index): they are drained after the commit, and
a failed drain leaves the rows for the worker's next catch-up.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from flask import current_app, has_app_context
from markupsafe import Markup
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from app.cases.models import Case
from app.cases.services import CaseFilters, filter_conditions
from app.core import departements
from app.extensions import db
from app.privacy import masking
from app.search import documents as docs_mod
from app.search import pg
from app.search import scan
from app.search import query as query_mod
from app.search.engine import IndexHolder, IndexUnavailable, SearcherCache
from app.search.excerpts import Excerpt, Highlighter, excerpts
from app.search.models import IndexOutbox

log = logging.getLogger(__name__)

SORTS = ("relevance", "date", "urgency")
FACET_FIELDS = {"prefecture": "pref", "code": "code", "status": "status", "demarche": "dem"}
MAX_PAGE = 500
SYNC_REBUILD_LIMIT = 2_000  # below this many cases a missing index is rebuilt at once
DRAIN_BATCH = 500
HINT_NO_WORD = ("Votre recherche ne contient aucun mot exploitable. Saisissez un nom, un numéro "
                "(numéro étranger, ticket CCC, numéro ANEF) ou quelques mots du récit ; "
                "mettez une expression entre guillemets pour la chercher telle quelle.")
HINT_TRUNCATED = "Recherche trop longue : seuls les premiers mots ont été pris en compte."
NOTICE_ANY = "Aucun dossier ne contient tous ces mots : voici ceux qui en contiennent au moins un."
UNAVAILABLE = "L'index de recherche est en cours de reconstruction : réessayez dans quelques instants."


# --- results ------------------------------------------------------------------------------

@dataclass
class Facet:
    value: str
    label: str
    count: int


@dataclass
class Hit:
    case_id: int
    reference: str
    score: float | None
    excerpts: list[Excerpt]
    person_name: str = ""
    prefecture: str = ""
    demarche: str = ""
    status: str = ""
    primary_blocage: str = ""
    opened_on: date | None = None
    urgency: int = 0


@dataclass
class SearchResults:
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    page: int = 1
    per_page: int = 20
    sort: str = "relevance"
    facets: dict[str, list[Facet]] = field(default_factory=dict)
    hint: str = ""
    notice: str = ""
    unavailable: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def references(self) -> list[str]:
        return [h.reference for h in self.hits]


# --- the index of this app ----------------------------------------------------------------

_holders_lock = threading.Lock()


def _holder(app=None) -> IndexHolder:
    app = app or current_app._get_current_object()
    holder = app.extensions.get("search_index")
    if holder is None:
        with _holders_lock:
            holder = app.extensions.get("search_index")
            if holder is None:
                holder = app.extensions["search_index"] = IndexHolder(app.config["INDEX_DIR"])
    return holder


def index_health() -> str:
    """'ok', 'reconstruction en cours' or 'indisponible' (then /healthz answers 503)."""
    if pg.active():  # search lives in the database: no index of this server's own
        return pg.health()
    holder = _holder()
    if holder.rebuild_running_elsewhere():
        return "reconstruction en cours"
    try:
        holder.cache()
    except IndexUnavailable:
        return "indisponible"
    return "ok"


def ensure_index(*, background: bool | None = None) -> bool:
    """Rebuild a missing, corrupt or outdated index. True if the index is usable now.

    `background=None` rebuilds at once when the database is small, in a thread otherwise
    (/healthz reports "reconstruction en cours" meanwhile).
    """
    if pg.active():
        return pg.health() == "ok"
    holder = _holder()
    try:
        holder.cache()
        return True
    except IndexUnavailable:
        pass
    if holder.rebuild_running_elsewhere():
        return False
    if background is None:
        with Session(db.engine) as session:
            background = (session.scalar(select(func.count(Case.id))) or 0) > SYNC_REBUILD_LIMIT
    if not background:
        rebuild_index(wait=False)
        return _usable(holder)
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            try:
                rebuild_index(wait=False)
            except Exception:
                log.exception("search index rebuild failed")

    holder.rebuilding = True  # reported at once, before the thread takes the lock
    threading.Thread(target=run, name="constat-search-rebuild", daemon=True).start()
    return False


def _usable(holder: IndexHolder) -> bool:
    try:
        holder.cache()
        return True
    except IndexUnavailable:
        return False


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def rebuild_index(*, wait: bool = True, batch: int = 500, workers: int = 1, progress=None) -> int:
    """Rebuild the whole index from the database. Returns the number of cases indexed
    (-1 if another rebuild is running and `wait` is False).

    `workers` > 1 writes the index as that many segments side by side, each in a forked process
    (the command line only: forking a threaded web process is not safe);
    `progress(done, total)` is called after each batch."""
    if pg.active():
        return pg.rebuild(batch=batch, progress=progress)
    holder = _holder()
    engine = db.engine
    with holder.rebuild_lock(wait=wait) as acquired:
        if not acquired:
            return -1
        holder.rebuilding = True
        try:
            with Session(engine) as session:
                last_outbox = session.scalar(select(func.max(IndexOutbox.id)))
                case_ids = list(session.scalars(select(Case.id).order_by(Case.id)))

            started = time.time()

            def report(done: int) -> None:
                if progress is not None:
                    progress(done, len(case_ids))
                _write_progress(holder, done, len(case_ids), started)

            def documents():
                done = 0
                for ids, built in _built_batches(engine, case_ids, batch):
                    yield from built
                    done += len(ids)
                    report(done)

            try:
                # Fork only a single-threaded process (the command line): a thread holding a lock
                # at the fork (a web server's, a test's leftover) leaves the child stuck on it.
                if workers > 1 and len(case_ids) > 4 * batch and threading.active_count() == 1:
                    count = _rebuild_in_parts(holder, engine.url, case_ids, workers, batch, report)
                else:
                    count = holder.rebuild(documents())
            finally:
                _progress_path(holder).unlink(missing_ok=True)
            if last_outbox is not None:
                # Changes queued before the snapshot are in the new index; later ones stay queued.
                with Session(engine) as session:
                    session.execute(delete(IndexOutbox).where(IndexOutbox.id <= last_outbox))
                    session.commit()
            return count
        finally:
            holder.rebuilding = False


def _progress_path(holder: IndexHolder):
    return holder.path.parent / (holder.path.name + ".rebuild.progress")


def _write_progress(holder: IndexHolder, done: int, total: int, started: float) -> None:
    """Where a rebuild stands, for the search page of every process (a small JSON file)."""
    import json

    path = _progress_path(holder)
    temp = path.with_suffix(f".{os.getpid()}")
    temp.write_text(json.dumps({"done": done, "total": total, "started": started}))
    temp.replace(path)


def rebuild_estimate(holder: IndexHolder | None = None) -> str:
    """« Environ 40 % fait, encore 2 min environ. » while a rebuild runs ('' otherwise)."""
    import json

    holder = holder or _holder()
    try:
        state = json.loads(_progress_path(holder).read_text())
        done, total, started = int(state["done"]), int(state["total"]), float(state["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if not total or not done or not holder.rebuild_running_elsewhere():
        return ""
    # Writing the segment after the last document takes about a fifth more.
    left = (time.time() - started) / done * (total - done) + (time.time() - started) * 0.2
    minutes = max(1, round(left / 60))
    return f"Environ {100 * done // total} % fait, encore {minutes} min environ."


def _built_batches(engine, case_ids: list[int], batch: int):
    """(ids, their documents) a batch at a time, each batch read in its own session; a case
    deleted meanwhile has no document."""
    for ids in _chunks(case_ids, batch):
        with Session(engine) as session:
            built = docs_mod.build_documents(session, ids, counted=True)
        yield ids, [d for d in built.values() if d is not None]


def _rebuild_in_parts(holder, url, case_ids: list[int], parts: int, batch: int, report) -> int:
    """The index as `parts` segments, each written by a forked process from its own share of
    the cases (contiguous, so each segment holds a range of ids)."""
    import multiprocessing

    size = -(-len(case_ids) // parts)
    shares = [case_ids[i * size:(i + 1) * size] for i in range(parts)]
    # Cases read, per part. No lock: each slot has one writer, and a child killed while holding
    # the lock would leave the parent's poll waiting for it forever.
    done = multiprocessing.get_context("fork").Array("l", parts, lock=False)

    def fill(part: int, add) -> int:
        from sqlalchemy import create_engine

        engine = create_engine(url)  # never the parent's pooled connections
        count = 0
        try:
            for ids, built in _built_batches(engine, shares[part], batch):
                for document in built:
                    add(document)
                count += len(built)
                done[part] += len(ids)
        finally:
            engine.dispose()
        return count

    last = -1

    def poll() -> None:
        nonlocal last
        total = sum(done[:])
        if total != last:
            last = total
            report(total)

    count = holder.rebuild_in_parts(parts, fill, poll)
    report(len(case_ids))
    return count


def _write(case_ids: list[int], timeout: float, deletions: set[int] | None = None) -> None:
    """Re-read these cases from the database under the index lock and replace their documents.

    Reading after taking the lock means a slower writer can never overwrite a newer version.
    """
    holder = _holder()
    deletions = deletions or set()
    with holder.writer(timeout) as (writer, cache):
        with Session(db.engine) as session:
            documents = docs_mod.build_documents(session, [c for c in case_ids if c not in deletions])
        documents.update({c: None for c in deletions})
        reader = cache.reader if cache is not None else None
        for case_id, document in documents.items():
            key = str(case_id)
            if reader is not None:
                if ("cid", key) in reader:
                    for docnum in reader.postings("cid", key).all_ids():
                        writer.delete_document(docnum)
            else:
                writer.delete_by_term("cid", key)
            if document is not None:
                writer.add_document(**document)


def drain_outbox(*, timeout: float = 10.0, limit: int = DRAIN_BATCH) -> int:
    """Index the cases queued in the outbox, then delete those rows. Returns rows processed.

    Raises on an index failure: the rows stay queued for the next attempt.
    """
    if pg.active():  # only rows whose in-transaction update failed are left
        return pg.drain_outbox(limit)
    holder = _holder()
    if holder.rebuild_running_elsewhere():
        return 0
    engine = db.engine
    with Session(engine) as session:
        rows = session.execute(select(IndexOutbox.id, IndexOutbox.case_id, IndexOutbox.action)
                               .order_by(IndexOutbox.id).limit(limit)).all()
    if not rows:
        return 0
    if not ensure_index():
        return 0
    if not _usable(holder):
        return 0
    case_ids = list(dict.fromkeys(r.case_id for r in rows))
    _write(case_ids, timeout)
    with Session(engine) as session:
        session.execute(delete(IndexOutbox).where(IndexOutbox.id.in_([r.id for r in rows])))
        session.commit()
    return len(rows)


def after_commit_hook() -> None:
    """Drain the outbox after a commit; an index failure is logged and caught up later."""
    if not has_app_context() or pg.active():  # PostgreSQL: written in the transaction itself
        return
    try:
        while drain_outbox(timeout=5.0) == DRAIN_BATCH:
            pass
    except Exception as exc:  # never fail the request whose change is already committed
        log.warning("search index not updated after commit (%s); the worker will catch up",
                    type(exc).__name__)


def index_case(case_id: int) -> None:
    """Index one case now (from the committed database state)."""
    if pg.active():
        with Session(db.engine) as session:
            pg.index_cases(session, [case_id])
            session.commit()
        return
    if ensure_index():
        _write([case_id], timeout=30.0)


def remove_case(case_id: int) -> None:
    """Remove one case from the index now."""
    if pg.active():
        index_case(case_id)  # the row goes with the case
        return
    if ensure_index():
        _write([case_id], timeout=30.0, deletions={case_id})


def worker_tick(app) -> bool:
    """Background catch-up: rebuild a missing index, drain what commits could not."""
    if pg.active():
        try:
            return pg.worker_tick(app)
        except Exception as exc:
            log.warning("search catch-up failed (%s); retrying", type(exc).__name__)
            return False
    if not ensure_index(background=False):
        return False
    try:
        return drain_outbox(timeout=30.0) > 0
    except Exception as exc:
        log.warning("search outbox catch-up failed (%s); retrying", type(exc).__name__)
        return False


# --- session hooks -------------------------------------------------------------------------

def _before_flush(session, _flush_context, _instances) -> None:
    if any(isinstance(obj, IndexOutbox) for obj in session.new):
        session.info["search_pending"] = True


def _after_commit(session) -> None:
    # SQL cannot run inside after_commit on this session; the drain uses its own sessions.
    if session.info.pop("search_pending", False):
        after_commit_hook()


def _after_rollback(session) -> None:
    session.info.pop("search_pending", None)


def install_session_hooks() -> None:
    """Drain the outbox after every commit that queued index work (all sessions); on PostgreSQL,
    write the search rows in the committing transaction (app.search.pg)."""
    pg.install_session_hooks()
    for name, fn in (("before_flush", _before_flush), ("after_commit", _after_commit),
                     ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


# --- searching -----------------------------------------------------------------------------

def _filters(params) -> CaseFilters:
    if params is None:
        return CaseFilters()
    if isinstance(params, CaseFilters):
        return params
    if isinstance(params, Mapping):
        from app.cases.views import parse_filters

        return parse_filters(params)
    raise TypeError("params: CaseFilters or a mapping of search parameters")


def _check_org(org_id) -> int:
    if isinstance(org_id, bool) or not isinstance(org_id, int):
        raise TypeError("org_id (the association) is required")
    return org_id


def _allowed(cache: SearcherCache, org_id: int, filters: CaseFilters):
    """Live documents of the association matching the filters (a numpy mask over docnums):
    every search starts here."""
    allowed = cache.live_mask("org", str(org_id)).copy()
    for value, name in ((filters.prefecture, "pref"), (filters.code, "code"),
                        (filters.status, "status"), (filters.demarche, "dem")):
        if value:
            allowed &= cache.live_mask(name, value)
    if filters.date_from or filters.date_to:
        opened = cache.array("opened")
        if filters.date_from:
            allowed &= opened >= filters.date_from.toordinal()
        if filters.date_to:
            allowed &= opened <= filters.date_to.toordinal()
    return allowed


@dataclass
class _Match:
    docs: object  # numpy mask over docnums
    scores: object = None
    query: object = None
    parsed: query_mod.ParsedQuery | None = None
    notice: str = ""


def _match(cache: SearcherCache, org_id: int, text: str, filters: CaseFilters, identity: bool) -> _Match:
    parsed = query_mod.parse(text)
    allowed = _allowed(cache, org_id, filters)
    if parsed.empty:
        return _Match(allowed if parsed.blank else allowed & False, None, None, parsed)
    q = query_mod.build(parsed, identity)
    if q is None or not allowed.any():
        return _Match(allowed & False, None, q, parsed)
    found, scores = scan.evaluate(q, cache.postings, cache.searcher)
    found &= allowed
    notice = ""
    if not found.any() and len(parsed.groups) > 1:
        q = query_mod.build(parsed, identity, any_group=True)
        found, scores = scan.evaluate(q, cache.postings, cache.searcher)
        found &= allowed
        notice = NOTICE_ANY if found.any() else ""
    return _Match(found, scores, q, parsed, notice)


def matching_case_ids(org_id: int, text: str, params=None, *, identity: bool = False) -> list[int]:
    """Ids of every case of the association matching the search (ascending ids); the exports
    use it so that a workbook holds exactly what the search page found."""
    org_id = _check_org(org_id)
    if pg.active():
        return pg.matching_case_ids(org_id, text, _filters(params), identity)
    try:
        cache = _holder().cache()
    except IndexUnavailable:
        if not ensure_index():
            raise
        cache = _holder().cache()
    found = _match(cache, org_id, text, _filters(params), identity)
    return sorted(int(c) for c in cache.array("case_id")[found.docs])


def search(org_id: int, text: str, params=None, *, identity: bool = False, page: int = 1,
           per_page: int = 20, sort: str = "relevance") -> SearchResults:
    """One page of the association's cases matching `text` and the filters in `params`.

    `identity` (the user may see identities, capability identity.view) lets names, numéro
    étranger, phone and email be matched and shown; without it they are neither matched nor
    shown in excerpts. Never raises on what the user typed.
    """
    org_id = _check_org(org_id)
    sort = sort if sort in SORTS else "relevance"
    page = max(1, min(int(page or 1), MAX_PAGE))
    if pg.active():
        return pg.search(org_id, text, _filters(params), identity=identity, page=page, per_page=per_page,
                         sort=sort)
    results = SearchResults(page=page, per_page=per_page, sort=sort)
    try:
        cache = _holder().cache()
    except IndexUnavailable:
        if not ensure_index():
            results.unavailable, results.hint = True, " ".join(t for t in (UNAVAILABLE, rebuild_estimate()) if t)
            return results
        cache = _holder().cache()
    filters = _filters(params)
    found = _match(cache, org_id, text, filters, identity)
    parsed = found.parsed
    if parsed is not None and not parsed.blank and parsed.empty:
        results.hint = HINT_NO_WORD
    elif parsed is not None and parsed.truncated:
        results.hint = HINT_TRUNCATED
    results.notice = found.notice
    docs = found.docs
    results.total = int(docs.sum()) if len(docs) else 0
    labels = docs_mod.Labels(db.session)
    results.facets = _facets(cache, docs, org_id, labels) if results.total else {n: [] for n in FACET_FIELDS}
    if not results.total:
        return results
    start = (page - 1) * per_page
    ids_column = cache.array("case_id")
    scores: dict[int, float | None] = {}
    if sort == "relevance" and found.scores is not None:
        ordered = []
        for docnum in scan.top(docs, found.scores, start + per_page)[start:]:
            case_id = int(ids_column[docnum])
            scores[case_id] = round(float(found.scores[docnum]), 3)
            ordered.append(case_id)
    elif sort == "urgency":
        ordered = _by_urgency(org_id, filters, {int(c) for c in ids_column[docs]}, start, per_page)
    else:
        matched = np.flatnonzero(docs)
        order = np.lexsort((ids_column[matched], cache.array("opened")[matched]))[::-1]
        ordered = [int(ids_column[d]) for d in matched[order[start:start + per_page]]]
    results.hits = hits_for(org_id, ordered, scores, highlighter_for(parsed), identity, labels)
    return results


def highlighter_for(parsed) -> Highlighter | None:
    """What the excerpts mark for this query (both backends: the excerpts are the same code)."""
    if parsed is None or parsed.empty:
        return None
    terms: set[str] = set()
    weak: set[str] = set()
    prefixes: set[str] = set()
    for clause in parsed.clauses():
        clause_terms, clause_weak, clause_prefixes = clause.highlight_terms()
        terms |= clause_terms
        weak |= clause_weak
        prefixes |= clause_prefixes
    return Highlighter(terms, prefixes, weak - terms, words=len(parsed.clauses()))


def _by_urgency(org_id: int, filters: CaseFilters, wanted: set[int], start: int, count: int) -> list[int]:
    # Urgency moves with the calendar and is stored on the case, not in the index.
    rows = db.session.scalars(
        select(Case.id).where(*filter_conditions(org_id, filters))
        .order_by(Case.urgency.desc(), Case.titre_expiry.is_(None), Case.titre_expiry,
                  Case.opened_on.desc(), Case.id.desc()))
    ordered = [case_id for case_id in rows if case_id in wanted]
    return ordered[start:start + count]


def hits_for(org_id: int, ordered: list[int], scores: dict, highlighter: Highlighter | None,
          identity: bool, labels: docs_mod.Labels) -> list[Hit]:
    if not ordered:
        return []
    session = db.session
    cases = {c.id: c for c in docs_mod.load_cases(session, ordered, org_id=org_id)}
    exhibits = docs_mod.load_exhibits(session, list(cases))
    hits = []
    for case_id in ordered:
        case = cases.get(case_id)
        if case is None:  # deleted since the index saw it, or (never) another association's
            continue
        text = docs_mod.case_text(case, exhibits.get(case_id, []), labels, mask=not identity)
        sources = text.sources if identity else docs_mod.public_sources(text)
        found = excerpts(sources, highlighter)
        if not found and case.narrative:
            shown = case.narrative if identity else masking.mask(case.narrative, masking.identity_of(case.person))
            found = [Excerpt("Récit", Markup.escape(shown[:200]) + ("…" if len(shown) > 200 else ""))]
        hits.append(Hit(
            case_id=case.id, reference=case.reference, score=scores.get(case_id), excerpts=found,
            person_name=(case.person.full_name if identity and case.person else ""),
            prefecture=case.prefecture, demarche=case.demarche, status=case.status,
            primary_blocage=case.primary_blocage or "", opened_on=case.opened_on, urgency=case.urgency))
    return hits


def _facets(cache: SearcherCache, docs, org_id: int, labels: docs_mod.Labels) -> dict[str, list[Facet]]:
    kinds = {"code": "blocage", "status": "statut", "demarche": "demarche"}
    counter = cache.facets(FACET_FIELDS, {"code"})
    facets: dict[str, list[Facet]] = {}
    for name, field_name in FACET_FIELDS.items():
        counts = []
        for value, count in counter.counts(field_name, docs):
            if name == "prefecture":
                dep = departements.get(value)
                label = f"{value} – {dep.nom}" if dep else value
            else:
                label = labels.get(org_id, kinds[name], value)
            counts.append(Facet(value, label, count))
        counts.sort(key=lambda f: (-f.count, f.label))
        facets[name] = counts
    return facets
