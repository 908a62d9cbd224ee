"""Search in PostgreSQL: the same search as whoosh, stored in the database (table case_search).

Chosen when the database is PostgreSQL (app.search.services dispatches here): several app
servers then share one search, with nothing kept in their DATA_DIR.

What is indexed and how a query matches are the whoosh backend's, term for term: documents are
analysed by app.search.documents / app.search.analysis (French stems of the folded words,
identifiers whole and by parts, shingles for phrases, Cyrillic and Arabic folding, the masking
split), and queries are built by app.search.query, then written as a tsquery. PostgreSQL's own
`unaccent` + `french` chain is not used: it stems after folding, so « licenciée » (licencie) and
« licenciement » (licenci) would not meet, it cannot transliterate Иванов, and the masked
passages are computed in Python (app.privacy.masking) anyway.

Two tsvectors per case: `public_vector` holds what every role may find (the reference, the
masked public text without compound identifiers: whoosh's ref, refpre, text and shingle
fields), `vector` everything (plus the person's record, text read from pièces, event
references, what masking removed). A role without identity.view is matched against
`public_vector` only, so person fields, OCR text and references can never match for it. Each
lexeme's positions carry a weight for ranking (A reference, B person, C public text, D the rest);
queries carry no weight, so the GIN index answers them without re-reading the vectors.

The row is written in the same transaction as the case: a session hook turns the IndexOutbox
rows that transaction queued into an upsert just before it commits (under a lock on the case
row, so that two transactions changing one case cannot leave the older version). If that fails,
the change still commits with its outbox rows, and the worker catches up.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass

from datetime import date

from sqlalchemy import (Column, Date, ForeignKey, Index, Integer, String, Text, and_, cast, event, exists, func,
                        literal, literal_column, select, text, union_all)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, TSVECTOR
from sqlalchemy.orm import Session
from whoosh import query as wq

from app.cases.models import Case
from app.cases.services import CaseFilters
from app.extensions import db
from app.search import documents as docs_mod
from app.search import query as query_mod
from app.search.models import IndexOutbox

log = logging.getLogger(__name__)

BATCH = 500
# Field of the whoosh document → weight of its lexemes here.
FIELD_WEIGHTS = {"ref": "A", "refpre": "A", "person": "B", "text": "C", "shingle": "C", "ptext": "D",
                 "pshingle": "D"}
PUBLIC_FIELDS = ("ref", "refpre", "text", "shingle")
# Above this many matches, relevance ranks the most recently opened RANK_LIMIT of them (ranking
# reads each vector; counting and facets do not): later pages go on by date.
RANK_LIMIT = 1000
# ts_rank weights, in PostgreSQL's order {D, C, B, A}: the reference first, then the person's
# record, then text (whoosh boosts: ref ×4, person ×2, text ×1).
RANK_WEIGHTS = "{0.25, 0.25, 0.5, 1.0}"
MAX_LEXEME_BYTES = 2046  # PostgreSQL refuses longer lexemes
MAX_VECTOR_CHARS = 900_000  # a tsvector is at most 1 MB: private text (OCR) is cut first


# A small GIN pending list: searches scan it whole, writes flush it when it is full.
GIN_OPTIONS = {"gin_pending_list_limit": 256}


class CaseSearch(db.Model):
    """The search vectors of a case (PostgreSQL; the table exists but stays empty on SQLite,
    where whoosh is the search)."""

    __tablename__ = "case_search"
    __table_args__ = (
        Index("ix_case_search_vector", "vector", postgresql_using="gin", postgresql_with=GIN_OPTIONS),
        Index("ix_case_search_public_vector", "public_vector", postgresql_using="gin",
              postgresql_with=GIN_OPTIONS),
        # Vectors out of line (TOAST) at once: the heap stays a few bytes a row, so counting and
        # faceting tens of thousands of matches reads little, and only ranking opens vectors.
        {"postgresql_with": {"toast_tuple_target": 256}},
    )

    case_id = Column(Integer, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    vector = Column(Text().with_variant(TSVECTOR(), "postgresql"), nullable=False)
    public_vector = Column(Text().with_variant(TSVECTOR(), "postgresql"), nullable=False)
    # The filter and facet values, as whoosh's document holds them (org, pref, status, dem,
    # code, opened): counting tens of thousands of matches then reads this table only.
    org_id = Column(Integer, nullable=False)
    prefecture = Column(String(3), nullable=False)
    status = Column(String(16), nullable=False)
    demarche = Column(String(32), nullable=False)
    codes = Column(Text().with_variant(ARRAY(String(32)), "postgresql"), nullable=False)
    opened_on = Column(Date, nullable=False)


TABLE = CaseSearch.__table__


def active(engine=None) -> bool:
    """True when search lives in the database (PostgreSQL)."""
    engine = engine or db.engine
    return engine.dialect.name == "postgresql"


# --- documents → tsvector -----------------------------------------------------------------

def _quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def vector_literal(document: dict, fields=tuple(FIELD_WEIGHTS)) -> str:
    """The tsvector (text form) of a whoosh document from app.search.documents.index_document.

    Positions only carry weights and term frequency (capped like whoosh's, analysis.TF_CAP):
    phrases are matched through shingles, as with whoosh, not through positions.
    """
    weights: dict[str, list[str]] = {}
    for field in fields:
        weight = FIELD_WEIGHTS[field]
        for term in (document.get(field) or "").split():
            weights.setdefault(term, []).append(weight)
    parts: list[str] = []
    size = 0
    # Public and identifying lexemes first: if a case's OCR text is huge, it is what gets cut.
    for term, found in sorted(weights.items(), key=lambda item: min(item[1])):
        if len(term.encode("utf-8")) > MAX_LEXEME_BYTES:
            continue
        item = _quote(term) + ":" + ",".join(f"{i}{w}" for i, w in enumerate(sorted(found), 1))
        size += len(item) + 1
        if size > MAX_VECTOR_CHARS:
            break
        parts.append(item)
    return " ".join(parts)


# --- writing -------------------------------------------------------------------------------

_UPSERT = text(
    "INSERT INTO case_search (case_id, vector, public_vector, org_id, prefecture, status, demarche, codes, opened_on) "
    "VALUES (:case_id, CAST(:vector AS tsvector), CAST(:public_vector AS tsvector), :org_id, :prefecture, :status, "
    ":demarche, :codes, :opened_on) ON CONFLICT (case_id) DO UPDATE SET vector = EXCLUDED.vector, "
    "public_vector = EXCLUDED.public_vector, org_id = EXCLUDED.org_id, prefecture = EXCLUDED.prefecture, "
    "status = EXCLUDED.status, demarche = EXCLUDED.demarche, codes = EXCLUDED.codes, opened_on = EXCLUDED.opened_on")


def _row(case_id: int, document: dict) -> dict:
    return {"case_id": case_id, "vector": vector_literal(document),
            "public_vector": vector_literal(document, PUBLIC_FIELDS), "org_id": int(document["org"]),
            "prefecture": document["pref"], "status": document["status"], "demarche": document["dem"],
            "codes": document["code"].split(), "opened_on": date.fromordinal(document["opened"])}


def index_cases(session: Session, case_ids) -> int:
    """Rewrite the search rows of these cases inside `session`'s transaction (deleted cases:
    the row goes). Returns the number of rows written.

    The case rows are locked first and re-read by a fresh session on the same connection: a
    transaction that waited for another one changing the same case sees its committed version
    (READ COMMITTED), so the last commit always leaves the newest document.
    """
    case_ids = sorted(set(case_ids))
    if not case_ids:
        return 0
    connection = session.connection()
    # NO KEY UPDATE: it waits for another indexer of the same case but not for the key-share
    # locks that inserting an event or exhibit takes on it (two such transactions would
    # otherwise deadlock, each waiting for the other's key-share lock).
    connection.execute(text("SELECT id FROM cases WHERE id = ANY(:ids) ORDER BY id FOR NO KEY UPDATE"),
                       {"ids": case_ids})
    with Session(bind=connection, autoflush=False) as reader:
        documents = docs_mod.build_documents(reader, case_ids)
    rows = [_row(cid, doc) for cid, doc in documents.items() if doc is not None]
    gone = [cid for cid, doc in documents.items() if doc is None]
    if rows:
        connection.execute(_UPSERT, rows)
    if gone:
        connection.execute(TABLE.delete().where(TABLE.c.case_id.in_(gone)))
    return len(rows)


def _before_flush(session, _flush_context, _instances) -> None:
    new = [obj for obj in session.new if isinstance(obj, IndexOutbox)]
    if new:
        session.info.setdefault("pg_search_outbox", []).extend(new)


def _before_commit(session) -> None:
    if not session.info.get("pg_search_outbox") and not any(isinstance(o, IndexOutbox) for o in session.new):
        return
    try:
        bind = session.get_bind()
    except Exception:  # noqa: BLE001 - an unbound session has nothing to index
        return
    if not active(getattr(bind, "engine", bind)):
        session.info.pop("pg_search_outbox", None)
        return
    session.flush()  # the outbox rows of this transaction get their ids
    pending = session.info.pop("pg_search_outbox", [])
    if not pending:
        return
    outbox_ids = [o.id for o in pending if o.id is not None]
    case_ids = {o.case_id for o in pending}
    try:
        # A savepoint: if indexing fails, the case change still commits with its outbox rows.
        with session.begin_nested():
            index_cases(session, case_ids)
            if outbox_ids:
                session.execute(IndexOutbox.__table__.delete().where(IndexOutbox.__table__.c.id.in_(outbox_ids)))
    except Exception as exc:  # noqa: BLE001 - never fail the change itself
        log.warning("search rows not updated in the transaction (%s); the worker will catch up",
                    type(exc).__name__)


def _after_rollback(session) -> None:
    session.info.pop("pg_search_outbox", None)


def install_session_hooks() -> None:
    for name, fn in (("before_flush", _before_flush), ("before_commit", _before_commit),
                     ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def drain_outbox(limit: int = BATCH) -> int:
    """Index the cases whose outbox rows were left (a failed in-transaction update); rows
    locked by another server's worker are skipped. Returns rows processed."""
    with Session(db.engine) as session:
        rows = session.execute(select(IndexOutbox.id, IndexOutbox.case_id).order_by(IndexOutbox.id)
                               .limit(limit).with_for_update(skip_locked=True)).all()
        if not rows:
            return 0
        index_cases(session, {r.case_id for r in rows})
        session.execute(IndexOutbox.__table__.delete().where(IndexOutbox.__table__.c.id.in_([r.id for r in rows])))
        session.commit()
    return len(rows)


def index_missing(limit: int = BATCH) -> int:
    """Index cases that have no search row (written before the migration, or by hand)."""
    with Session(db.engine) as session:
        ids = list(session.scalars(select(Case.id).where(~exists().where(TABLE.c.case_id == Case.id))
                                   .order_by(Case.id).limit(limit)))
        if ids:
            index_cases(session, ids)
            session.commit()
    return len(ids)


def rebuild(batch: int = BATCH, progress=None) -> int:
    """Rewrite every case's search row from the database, a batch per transaction (search keeps
    answering from the previous rows meanwhile). Returns the number of cases indexed;
    `progress(done, total)` is called after each batch."""
    with Session(db.engine) as session:
        last_outbox = session.scalar(select(func.max(IndexOutbox.id)))
        case_ids = list(session.scalars(select(Case.id).order_by(Case.id)))
        session.execute(TABLE.delete().where(~exists().where(Case.id == TABLE.c.case_id)))
        session.commit()
    count = 0
    for start in range(0, len(case_ids), batch):
        with Session(db.engine) as session:
            count += index_cases(session, case_ids[start:start + batch])
            session.commit()
        if progress is not None:
            progress(min(start + batch, len(case_ids)), len(case_ids))
    with Session(db.engine) as session:
        if last_outbox is not None:
            session.execute(IndexOutbox.__table__.delete().where(IndexOutbox.__table__.c.id <= last_outbox))
        for index in ("ix_case_search_vector", "ix_case_search_public_vector"):
            session.execute(text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": index})
        session.commit()
    return count


def health() -> str:
    try:
        with db.engine.connect() as connection:
            connection.execute(select(TABLE.c.case_id).limit(1))
    except Exception:  # noqa: BLE001 - a missing table (migration not run) or no database
        return "indisponible"
    return "ok"


def worker_tick(app) -> bool:
    """Catch up what in-transaction updates could not write; at the first tick, cases without
    a row (indexed a batch per tick)."""
    did = False
    if not app.extensions.get("pg_search_complete"):
        missing = index_missing()
        if missing < BATCH:
            app.extensions["pg_search_complete"] = True
        did = missing > 0
    return drain_outbox() > 0 or did


# --- querying ------------------------------------------------------------------------------

def tsquery(query: wq.Query) -> str:
    """A whoosh query built by app.search.query as tsquery text (lexemes as they are, no
    further analysis): Term → 'lexeme', Prefix → 'lexeme':*, And/Or/AndNot. The fields need no
    mark: a role without identity is matched against public_vector, which holds only the
    fields its whoosh query may name."""
    if isinstance(query, wq.Term):
        return _quote(query.text)
    if isinstance(query, wq.Prefix):
        return f"{_quote(query.text)}:*"
    if isinstance(query, wq.AndNot):
        return f"({tsquery(query.a)} & !{tsquery(query.b)})"
    if isinstance(query, (wq.And, wq.Or)):
        joiner = " & " if isinstance(query, wq.And) else " | "
        parts = list(dict.fromkeys(tsquery(q) for q in query.subqueries))  # text | ptext: one lexeme
        return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"
    raise TypeError(f"unsupported query {type(query).__name__}")


def _column(identity: bool):
    return TABLE.c.vector if identity else TABLE.c.public_vector


@contextmanager
def _index_scans(text_: str):
    """Sequential scans off for the search statements of this transaction, then back.

    The planner prices a scan of case_search by its heap (a few bytes a row: the vectors are
    out of line) and not by the vectors the scan detoasts one by one (~25 µs each): left to
    itself it scans 10,000 rows for 270 ms where the GIN index answers in 2 ms. Without words
    to match, a scan is the right plan.
    """
    if not (text_ or "").strip():
        yield
        return
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    yield  # (if a statement fails, the rollback resets it)
    db.session.execute(text("SET LOCAL enable_seqscan = on"))


@dataclass
class _Match:
    conditions: list
    query: str | None  # tsquery text, None for "every case of the filters"
    parsed: query_mod.ParsedQuery
    column: object = None
    nothing: bool = False
    notice: str = ""


def _conditions(org_id: int, filters: CaseFilters, tsq: str | None, identity: bool) -> list:
    """The association and the filters (app.cases.services.filter_conditions, on the values the
    search row holds), and the match."""
    c = TABLE.c
    conditions = [c.org_id == org_id]
    for value, column in ((filters.status, c.status), (filters.prefecture, c.prefecture),
                          (filters.demarche, c.demarche)):
        if value:
            conditions.append(column == value)
    if filters.code:
        conditions.append(literal(filters.code) == func.any(c.codes))
    if filters.date_from:
        conditions.append(c.opened_on >= filters.date_from)
    if filters.date_to:
        conditions.append(c.opened_on <= filters.date_to)
    if tsq is not None:
        conditions.append(_column(identity).bool_op("@@")(cast(literal(tsq), TSQUERY)))
    return conditions


def _match(org_id: int, text_: str, filters: CaseFilters, identity: bool, notice_any: str) -> _Match:
    parsed = query_mod.parse(text_)
    if parsed.empty:
        return _Match(_conditions(org_id, filters, None, identity), None, parsed, nothing=not parsed.blank)
    q = query_mod.build(parsed, identity)
    if q is None:
        return _Match([], None, parsed, nothing=True)
    conditions = _conditions(org_id, filters, tsquery(q), identity)
    if len(parsed.groups) > 1 and not db.session.scalar(select(exists().where(*conditions))):
        relaxed = query_mod.build(parsed, identity, any_group=True)
        relaxed_conditions = _conditions(org_id, filters, tsquery(relaxed), identity)
        if db.session.scalar(select(exists().where(*relaxed_conditions))):
            return _Match(relaxed_conditions, tsquery(relaxed), parsed, _column(identity), notice=notice_any)
    return _Match(conditions, tsquery(q), parsed, _column(identity))


def matching_case_ids(org_id: int, text_: str, filters: CaseFilters, identity: bool) -> list[int]:
    with _index_scans(text_):
        return _matching_case_ids(org_id, text_, filters, identity)


def _matching_case_ids(org_id: int, text_: str, filters: CaseFilters, identity: bool) -> list[int]:
    from app.search import services

    found = _match(org_id, text_, filters, identity, services.NOTICE_ANY)
    if found.nothing:
        return []
    return list(db.session.scalars(select(TABLE.c.case_id).where(*found.conditions).order_by(TABLE.c.case_id)))


def _facet_counts(conditions: list) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    """(total, {facet: [(value, count)]}) in one statement: one pass over the matched rows for
    the three single-valued facets (GROUPING SETS), one over their codes."""
    c = TABLE.c
    matched = select(c.prefecture, c.status, c.demarche, c.codes).where(*conditions).cte("matched")
    groups = (select(literal("g").label("kind"), matched.c.prefecture, matched.c.status, matched.c.demarche,
                     func.count().label("n"))
              .group_by(func.grouping_sets(matched.c.prefecture, matched.c.status, matched.c.demarche)))
    unnested = select(func.unnest(matched.c.codes).label("code")).subquery()
    nothing = cast(literal(None), String)
    codes = select(literal("c"), unnested.c.code, nothing, nothing, func.count()).group_by(unnested.c.code)
    total = 0
    counts: dict[str, list[tuple[str, int]]] = {"prefecture": [], "code": [], "status": [], "demarche": []}
    for kind, prefecture, status, demarche, n in db.session.execute(union_all(groups, codes)):
        if kind == "c":
            facet, value = "code", prefecture
        elif prefecture is not None:
            facet, value = "prefecture", prefecture
            total += int(n)  # every row has one prefecture (NOT NULL)
        elif status is not None:
            facet, value = "status", status
        else:
            facet, value = "demarche", demarche
        if value:
            counts[facet].append((value, int(n)))
    return total, counts


def _ranked(found: _Match, where, by_date, total: int, start: int, count: int):
    """(case ids, scores) of one page by ts_rank; over RANK_LIMIT matches, among the
    RANK_LIMIT most recently opened."""
    query = cast(literal(found.query), TSQUERY)
    weights = literal_column(f"'{RANK_WEIGHTS}'::float4[]")
    if total <= RANK_LIMIT:
        rank = func.ts_rank(weights, found.column, query).label("rank")
        statement = select(TABLE.c.case_id.label("id"), rank).where(where)
    else:
        candidates = (select(TABLE.c.case_id.label("id"), found.column.label("vector")).where(where)
                      .order_by(*by_date).limit(RANK_LIMIT).subquery())
        rank = func.ts_rank(weights, candidates.c.vector, query).label("rank")
        statement = select(candidates.c.id, rank)
    rows = db.session.execute(statement.order_by(rank.desc(), statement.selected_columns[0])
                              .offset(start).limit(count)).all()
    return [row.id for row in rows], {row.id: round(float(row.rank), 3) for row in rows}


def search(org_id: int, text_: str, filters: CaseFilters, *, identity: bool, page: int, per_page: int,
           sort: str):
    """services.search on PostgreSQL (same arguments once checked, same SearchResults)."""
    with _index_scans(text_):
        return _search(org_id, text_, filters, identity=identity, page=page, per_page=per_page, sort=sort)


def _search(org_id: int, text_: str, filters: CaseFilters, *, identity: bool, page: int, per_page: int,
            sort: str):
    from app.core import departements
    from app.search import services

    results = services.SearchResults(page=page, per_page=per_page, sort=sort)
    found = _match(org_id, text_, filters, identity, services.NOTICE_ANY)
    parsed = found.parsed
    if not parsed.blank and parsed.empty:
        results.hint = services.HINT_NO_WORD
    elif parsed.truncated:
        results.hint = services.HINT_TRUNCATED
    results.notice = found.notice
    results.facets = {name: [] for name in services.FACET_FIELDS}
    if found.nothing:
        return results
    results.total, counts = _facet_counts(found.conditions)
    if not results.total:
        return results
    labels = docs_mod.Labels(db.session)
    kinds = {"code": "blocage", "status": "statut", "demarche": "demarche"}
    for name, values in counts.items():
        facets = []
        for value, count in values:
            if name == "prefecture":
                dep = departements.get(value)
                label = f"{value} – {dep.nom}" if dep else value
            else:
                label = labels.get(org_id, kinds[name], value)
            facets.append(services.Facet(value, label, count))
        facets.sort(key=lambda f: (-f.count, f.label))
        results.facets[name] = facets
    start = (page - 1) * per_page
    scores: dict[int, float | None] = {}
    where = and_(*found.conditions)
    by_date = (TABLE.c.opened_on.desc(), TABLE.c.case_id.desc())
    if sort == "relevance" and found.query is not None and start < RANK_LIMIT:
        ordered, scores = _ranked(found, where, by_date, results.total, start, per_page)
        if len(ordered) < per_page and start + len(ordered) >= RANK_LIMIT < results.total:
            # Past the ranked matches, the others by date (they come after them in date order).
            ordered += list(db.session.scalars(select(TABLE.c.case_id).where(where).order_by(*by_date)
                                               .offset(start + len(ordered)).limit(per_page - len(ordered))))
    elif sort == "urgency":
        ordered = list(db.session.scalars(
            select(Case.id).where(Case.id == TABLE.c.case_id, where)
            .order_by(Case.urgency.desc(), Case.titre_expiry.is_(None), Case.titre_expiry,
                      Case.opened_on.desc(), Case.id.desc()).offset(start).limit(per_page)))
    else:
        ordered = list(db.session.scalars(select(TABLE.c.case_id).where(where).order_by(*by_date)
                                          .offset(start).limit(per_page)))
    results.hits = services.hits_for(org_id, ordered, scores, services.highlighter_for(parsed), identity, labels)
    return results

