"""The search service: held-out queries, isolation, roles, excerpts, index following commits."""

from __future__ import annotations

import os

from datetime import datetime

import pytest
from markupsafe import Markup
from sqlalchemy import func, select

from app.cases.services import enqueue_index
from app.evidence.models import Exhibit
from app.search import services
from app.search.models import IndexOutbox
from tests import factories

# The embedded whoosh index only; PostgreSQL has its own tests (tests/search/test_pg.py).
WHOOSH_ONLY = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="whoosh only")

# (query, expected case attribute on the register) — typed the way volunteers type them.
HELD_OUT = [
    ("recepisse", "ivanov"),               # accents dropped by the user
    ("récépissé", "ivanov"),
    ("licenciement", "ivanov"),            # stemming: licenciée → licenciement
    ("licenciee", "ivanov"),
    ("Alexei Ivanov", None),               # (transliteration differs: no promise)
    ("Иванов Алексей", "ivanov"),          # Cyrillic, either order
    ("Алексей Иванов", "ivanov"),
    ("ivanov", "ivanov"),                  # Latin spelling of a Cyrillic name
    ("Nguyen Van Duc", "nguyen"),          # Vietnamese without diacritics
    ("Đức Nguyễn", "nguyen"),              # with diacritics, reversed
    ("احمد بن علي", "benali"),             # Arabic, hamza folded
    ("884213", "ivanov"),                  # CCC ticket number inside an event
    ("2025-CCC-884213", "ivanov"),         # the ticket whole
    ("ANEF-69-2025-000012", "ivanov"),     # ANEF request number whole
    ("7512345678", "ivanov"),              # numéro étranger
    ("0612345678", "ivanov"),              # phone typed without spaces
    ('"erreur technique est survenue"', "nguyen"),  # quoted phrase
    ('"timbre fiscal"', "nguyen"),
    ("rendez-vous", "rdv"),
    ("instruction huit mois", "diallo"),
    ("API non délivrée Isère", "nguyen"),  # labels and département name
    ("prolongation instruction expirée", "benali"),
]


@pytest.mark.parametrize(("text", "expected"), [h for h in HELD_OUT if h[1]])
def test_held_out_queries_find_the_case_in_top_5(register, org, text, expected):
    results = services.search(org.id, text, None, identity=True)
    target = getattr(register, expected)
    assert target.reference in results.references()[:5], (text, results.references())


def test_reference_exact_and_prefix(register, org):
    reference = register.rdv.reference
    assert services.search(org.id, reference, None).references()[0] == reference
    assert reference in services.search(org.id, reference[:-1], None).references()


def test_other_association_never_matches(register, org, other_org):
    for text, _expected in HELD_OUT:
        results = services.search(org.id, text, None, identity=True)
        assert register.other.reference not in results.references()
        assert register.other.id not in services.matching_case_ids(org.id, text, None, identity=True)
    theirs = services.search(other_org.id, "884214", None, identity=True)
    assert theirs.references() == [register.other.reference]
    assert services.search(other_org.id, "884213", None, identity=True).total == 0


def test_org_is_a_required_argument(register):
    with pytest.raises(TypeError):
        services.search("récépissé", None)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        services.search(None, "récépissé", None)  # type: ignore[arg-type]


def test_coordinator_cannot_match_or_see_personal_values(register, org):
    for text in ("Иванов", "ivanov", "7512345678", "0612345678", "alexei.ivanov@exemple.fr", "Diallo"):
        assert services.search(org.id, text, None, identity=False).total == 0, text
    # A case whose narrative names the person: found by its other words, name masked.
    case = factories.case(org, last_name="Traoré", first_name="Moussa", numero_etranger="7500000001",
                          narrative="M. Traoré (n° 7500000001) attend son passeport talent depuis juin.")
    results = services.search(org.id, "passeport talent", None, identity=False)
    assert results.references() == [case.reference]
    shown = " ".join(str(e.html) for e in results.hits[0].excerpts)
    assert "Traoré" not in shown and "7500000001" not in shown and "[…]" in shown
    assert results.hits[0].person_name == ""
    assert services.search(org.id, "Traoré", None, identity=False).total == 0
    assert services.search(org.id, "Traore", None, identity=True).references() == [case.reference]


def test_excerpts_highlight_and_escape_markup(register, org):
    results = services.search(org.id, "script allocations", None, identity=True)
    hit = next(h for h in results.hits if h.case_id == register.benali.id)
    html = " ".join(str(e.html) for e in hit.excerpts)
    assert isinstance(hit.excerpts[0].html, Markup)
    assert "<script" not in html and "&lt;<mark>script</mark>&gt;" in html, html
    assert "<mark>allocations</mark>" in html


def test_excerpt_shows_where_an_accentless_query_matched(register, org):
    hit = services.search(org.id, "recepisse", None, identity=True).hits[0]
    assert "<mark>récépissé</mark>" in str(hit.excerpts[0].html)


def test_facets_and_filters(register, org):
    results = services.search(org.id, "préfecture", None, identity=True)
    prefectures = {f.value: f.count for f in results.facets["prefecture"]}
    assert sum(prefectures.values()) == results.total
    filtered = services.search(org.id, "préfecture", {"prefecture": "38"}, identity=True)
    assert filtered.total == prefectures["38"]
    assert {h.prefecture for h in filtered.hits} == {"38"}
    by_code = services.search(org.id, "", {"code": "RDV"}, identity=True)
    assert by_code.references() == [register.rdv.reference]
    assert {f.value for f in by_code.facets["code"]} == {"RDV"}
    statuses = {f.value: f.count for f in services.search(org.id, "", None).facets["status"]}
    assert statuses["EN-COURS"] == 1


def test_date_filter_on_opened_on(register, org, db):
    register.rdv.opened_on = datetime(2024, 5, 2).date()
    enqueue_index(register.rdv.id)
    db.session.commit()
    found = services.search(org.id, "", {"from": "2024-05-01", "to": "2024-05-31"})
    assert found.references() == [register.rdv.reference]


def test_sort_by_date_and_urgency(register, org):
    by_date = services.search(org.id, "", None, sort="date", per_page=50)
    dates = [h.opened_on for h in by_date.hits]
    assert dates == sorted(dates, reverse=True) and by_date.total == len(dates)
    by_urgency = services.search(org.id, "", None, sort="urgency", per_page=50)
    levels = [h.urgency for h in by_urgency.hits]
    assert levels == sorted(levels, reverse=True) and len(levels) == by_date.total


def test_pagination(register, org):
    first = services.search(org.id, "", None, per_page=5, page=1)
    second = services.search(org.id, "", None, per_page=5, page=2)
    assert first.total == second.total > 10
    assert not set(first.references()) & set(second.references())


@pytest.mark.parametrize("text", ['"unclosed', "NEAR(", "*", "AND OR NOT", "x" * 3000, "-", "OU OU",
                                  "((((", "a*", '"" ""', "\x00\x01", "l'", "😀 préfecture", "a" * 200 + "*"])
def test_malformed_queries_never_raise(register, org, text):
    results = services.search(org.id, text, None, identity=True)
    assert results.total >= 0


def test_queries_without_words_get_a_french_hint(register, org):
    assert "aucun mot" in services.search(org.id, "*", None).hint
    assert "aucun mot" in services.search(org.id, "AND OR NOT", None).hint


def test_relaxes_to_any_word_when_all_words_find_nothing(register, org):
    results = services.search(org.id, "récépissé zzzyxw", None, identity=True)
    assert register.ivanov.reference in results.references()
    assert results.notice


def test_index_follows_commits_and_ignores_rollbacks(org, db):
    case = factories.case(org, narrative="Quartier de la Guillotière, permanence du mardi.")
    assert services.search(org.id, "Guillotière", None).references() == [case.reference]
    case.narrative = "Permanence déplacée à Vaulx-en-Velin."
    enqueue_index(case.id)
    db.session.flush()
    db.session.rollback()
    assert services.search(org.id, "Vaulx-en-Velin", None).total == 0
    assert db.session.scalar(select(func.count(IndexOutbox.id))) == 0
    factories.event(db.session.get(type(case), case.id), "PAN", description="Visite au PAN de Vénissieux")
    assert services.search(org.id, "venissieux", None).references() == [case.reference]
    assert services.search(org.id, "Guillotière", None).total == 1
    assert db.session.scalar(select(func.count(IndexOutbox.id))) == 0


def test_nothing_is_indexed_before_commit(org, db, volunteer):
    from app.cases import services as cases
    from app.cases.services import CaseInput

    cases.create_case(org, CaseInput(prefecture="69", demarche="RENOUV", status="OUVERT", blocages=["RDV"],
                                     narrative="Commune de Rillieux-la-Pape."), volunteer)
    db.session.flush()
    assert services.search(org.id, "Rillieux", None).total == 0
    db.session.commit()
    assert services.search(org.id, "Rillieux", None).total == 1


def test_updates_never_leave_duplicates_or_stale_documents(org, db):
    """Guards against whoosh-reloaded's Searcher.refresh() bug (stale deletions, old segments)."""
    case = factories.case(org, narrative="version zero")
    others = [factories.case(org, narrative=f"voisin {i}") for i in range(3)]
    for i in range(12):
        services.search(org.id, "version", None)  # keep a searcher open across the updates
        case.narrative = f"version numero{i}"
        enqueue_index(case.id)
        db.session.commit()
        results = services.search(org.id, "version", None, per_page=50)
        assert results.references() == [case.reference], i
        assert services.search(org.id, f"numero{i}", None).total == 1
        assert services.search(org.id, f"numero{i - 1}", None).total == 0
    assert services.search(org.id, "voisin", None).total == len(others)
    assert services.search(org.id, "", None).total == 1 + len(others)


@WHOOSH_ONLY
def test_index_failure_keeps_the_outbox_for_the_worker(org, db, app, monkeypatch):
    case = factories.case(org, narrative="avant la panne")
    holder = services._holder()

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(holder, "writer", broken)
    case.narrative = "pendant la panne de disque"
    enqueue_index(case.id)
    db.session.commit()  # the database change is kept
    assert db.session.scalar(select(func.count(IndexOutbox.id))) == 1
    assert services.search(org.id, "panne", None).references() == [case.reference]
    assert services.search(org.id, "disque", None).total == 0
    monkeypatch.undo()
    assert services.worker_tick(app) is True
    assert services.search(org.id, "disque", None).references() == [case.reference]
    assert db.session.scalar(select(func.count(IndexOutbox.id))) == 0


def test_exhibit_text_is_searched_and_withdrawn_exhibits_are_not(org, db):
    case = factories.case(org, narrative="Captures jointes.")
    for number, text, withdrawn in ((1, "Votre demande ne peut aboutir : code FX-9087", None),
                                    (2, "Courrier de la sous-préfecture de Villefranche", datetime(2025, 1, 1))):
        db.session.add(Exhibit(case_id=case.id, number=number, sha256=f"{number:064x}", size=10, mime="image/png",
                               extension="png", description=f"Capture {number}", ocr_text=text,
                               ocr_status="done", withdrawn_at=withdrawn))
    enqueue_index(case.id)
    db.session.commit()
    results = services.search(org.id, "FX-9087", None, identity=True)
    assert results.references() == [case.reference]
    assert results.hits[0].excerpts[0].label == "Pièce n° 1, texte lu"
    assert "<mark>FX-9087</mark>" in str(results.hits[0].excerpts[0].html)
    assert services.search(org.id, "Villefranche", None, identity=True).total == 0
    # Text read from a pièce may carry anything personal: roles without identity never see it quoted.
    hidden = services.search(org.id, "FX-9087", None)
    assert "FX-9087" not in " ".join(str(e.html) for h in hidden.hits for e in h.excerpts)


@WHOOSH_ONLY
def test_reindex_rebuilds_a_deleted_or_corrupt_index(register, org, app):
    import shutil

    index_dir = app.config["INDEX_DIR"]
    expected = services.search(org.id, "récépissé", None).references()
    shutil.rmtree(index_dir)
    services._holder().forget()
    assert services.index_health() == "indisponible"
    assert services.rebuild_index() > 0
    assert services.index_health() == "ok"
    assert services.search(org.id, "récépissé", None).references() == expected
    # Corrupt: garbage in every index file; the next search rebuilds (small database).
    for path in index_dir.glob("*"):
        if path.is_file() and path.suffix in {".toc", ".seg"}:
            path.write_bytes(b"\x00garbage")
    services._holder().forget()
    assert services.search(org.id, "récépissé", None).references() == expected
    assert services.index_health() == "ok"


@WHOOSH_ONLY
def test_health_reports_a_rebuild_in_progress(app):
    holder = services._holder()
    with holder.rebuild_lock(wait=True):
        holder.rebuilding = True
        try:
            assert services.index_health() == "reconstruction en cours"
        finally:
            holder.rebuilding = False


def test_parallel_rebuild_gives_the_same_index_and_reports_progress(register, org, app):
    """`search reindex --workers 2` writes two segments side by side in forked processes, each
    bulk-loaded from its share of the cases: same results, progress up to the total."""
    queries = ["récépissé", "Иванов", "884213", '"timbre fiscal"', "préfecture", "rendez-vous", "recep*"]
    expected = {q: services.search(org.id, q, None, identity=True) for q in queries}
    seen = []
    assert services.rebuild_index(batch=2, workers=2, progress=lambda done, total: seen.append((done, total))) > 0
    for q, before in expected.items():
        after = services.search(org.id, q, None, identity=True)
        assert (after.total, sorted(after.references())) == (before.total, sorted(before.references())), q
        assert {k: [(f.value, f.count) for f in v] for k, v in after.facets.items()} == \
            {k: [(f.value, f.count) for f in v] for k, v in before.facets.items()}, q
    total = seen[-1][1]
    assert seen[-1][0] == total and [d for d, _t in seen] == sorted(d for d, _t in seen)
    if not services.pg.active():  # the embedded index: one segment per forked writer
        from whoosh import index

        segments = index.open_dir(str(services._holder().path))._segments()
        assert sorted(s.doc_count() for s in segments) == [total // 2, total - total // 2]


@WHOOSH_ONLY
def test_parallel_rebuild_that_fails_in_a_child_keeps_the_index(register, org, app, monkeypatch):
    """A forked writer that fails: the rebuild raises, the previous index still answers, and the
    write lock is free for the next rebuild."""
    from app.cases.models import Case
    from app.extensions import db

    before = services.search(org.id, "préfecture", None, identity=True)
    real = services.docs_mod.build_documents
    last = db.session.scalar(select(func.max(Case.id)))

    def broken(session, ids, **kwargs):
        if last in ids:
            raise ValueError("document illisible")
        return real(session, ids, **kwargs)

    monkeypatch.setattr(services.docs_mod, "build_documents", broken)  # inherited by the fork
    with pytest.raises(RuntimeError, match=r"^partie 2 : ValueError$"):  # its type, never its text
        services.rebuild_index(batch=2, workers=2)
    monkeypatch.setattr(services.docs_mod, "build_documents", real)
    after = services.search(org.id, "préfecture", None, identity=True)
    assert after.total == before.total > 0
    assert services.rebuild_index(batch=2, workers=2) == db.session.scalar(select(func.count(Case.id)))


@WHOOSH_ONLY
def test_parallel_rebuild_whose_child_dies_fails_instead_of_waiting(register, org, app, monkeypatch):
    """A forked writer killed without a word (the OOM killer, a segfault): the parent notices
    its exit and fails, instead of waiting for its segment forever."""
    from app.cases.models import Case
    from app.extensions import db

    real = services.docs_mod.build_documents
    last = db.session.scalar(select(func.max(Case.id)))

    def dies(session, ids, **kwargs):
        if last in ids:
            os._exit(9)
        return real(session, ids, **kwargs)

    monkeypatch.setattr(services.docs_mod, "build_documents", dies)
    with pytest.raises(RuntimeError, match="s'est arrêté sans finir"):
        services.rebuild_index(batch=2, workers=2)
    monkeypatch.setattr(services.docs_mod, "build_documents", real)
    assert services.search(org.id, "préfecture", None, identity=True).total > 0


@WHOOSH_ONLY
def test_search_page_estimates_a_rebuild_in_progress(app, org):
    import shutil
    import time

    holder = services._holder()
    shutil.rmtree(app.config["INDEX_DIR"], ignore_errors=True)
    holder.forget()
    with holder.rebuild_lock(wait=True):
        holder.rebuilding = True
        try:
            services._write_progress(holder, 250, 1000, time.time() - 60)
            results = services.search(org.id, "préfecture", None)
            assert results.unavailable and "reconstruction" in results.hint
            assert "Environ 25 % fait, encore 3 min environ." in results.hint, results.hint
        finally:
            holder.rebuilding = False
            services._progress_path(holder).unlink(missing_ok=True)
    assert services.rebuild_estimate(holder) == ""
