"""Search in PostgreSQL (app/search/pg.py): rows written in the case's own transaction, seen by
every server at once, caught up by the worker when that fails, rebuilt by `search reindex`,
matched through the GIN index. Runs only against PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from whoosh import query as wq

from app.cases.models import Case, CaseCode, Person
from app.cases.services import CaseFilters, enqueue_index
from app.evidence.models import Exhibit
from app.extensions import db as _db
from app.search import pg, services
from app.search.models import IndexOutbox
from tests import factories

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                                reason="PostgreSQL only (TEST_DATABASE_URL)")


def rows(db) -> int:
    return db.session.scalar(select(func.count()).select_from(pg.TABLE))


def outbox(db) -> int:
    return db.session.scalar(select(func.count(IndexOutbox.id)))


def test_the_row_is_written_by_the_case_transaction_itself(org, db):
    from app.cases import services as cases
    from app.cases.services import CaseInput

    case = cases.create_case(org, CaseInput(prefecture="69", demarche="RENOUV", status="OUVERT", blocages=["RDV"],
                                            narrative="Permanence de Rillieux-la-Pape."), None)
    db.session.flush()
    # Not committed: another connection (another server) sees neither the case nor its row.
    with _db.engine.connect() as other:
        assert other.execute(text("SELECT count(*) FROM case_search")).scalar() == 0
    db.session.commit()
    assert outbox(db) == 0  # consumed by the same transaction, nothing left for a worker
    with _db.engine.connect() as other:
        assert other.execute(text("SELECT count(*) FROM case_search WHERE case_id = :id"), {"id": case.id}).scalar() == 1
    assert services.search(org.id, "Rillieux", None).references() == [case.reference]


SECOND_SERVER = textwrap.dedent("""
    import json
    import sys
    from pathlib import Path

    from app import create_app
    from app.config import testing_config
    from app.search import services

    app = create_app(testing_config(Path(sys.argv[1])))
    with app.app_context():
        print(json.dumps({word: services.search(int(sys.argv[2]), word, None).references() for word in sys.argv[3:]}))
""")


def second_server(data_dir, org_id: int, *words: str) -> dict:
    """Search from another process (another app server: same database, its own DATA_DIR)."""
    done = subprocess.run([sys.executable, "-c", SECOND_SERVER, str(data_dir), str(org_id), *words], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_case_written_on_one_server_is_found_by_the_other_at_once(org, db, tmp_path):
    other = tmp_path / "second-server"
    case = factories.case(org, narrative="Guichet fermé à Vénissieux depuis mars.")
    assert second_server(other, org.id, "venissieux") == {"venissieux": [case.reference]}
    case.narrative = "Guichet rouvert à Villeurbanne."
    enqueue_index(case.id)
    db.session.commit()
    # The second time as well as the first: nothing cached on either side.
    assert second_server(other, org.id, "Villeurbanne", "venissieux") == {"Villeurbanne": [case.reference],
                                                                        "venissieux": []}
    assert not (other / "index").exists()
    assert not services._holder().path.exists()  # noqa: SLF001 - no whoosh index on PostgreSQL


def test_rollback_writes_nothing(org, db):
    case = factories.case(org, narrative="Quartier de la Guillotière.")
    case.narrative = "Permanence déplacée à Vaulx-en-Velin."
    enqueue_index(case.id)
    db.session.flush()
    db.session.rollback()
    assert services.search(org.id, "Vaulx-en-Velin", None).total == 0
    assert services.search(org.id, "Guillotière", None).references() == [case.reference]


def test_a_failed_update_keeps_the_change_and_the_worker_catches_up(org, db, app, monkeypatch):
    case = factories.case(org, narrative="avant la panne")

    def broken(*_args, **_kwargs):
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(pg, "index_cases", broken)
    case.narrative = "pendant la panne de disque"
    enqueue_index(case.id)
    db.session.commit()  # the case change is kept, with its outbox row
    assert db.session.get(Case, case.id).narrative == "pendant la panne de disque"
    assert outbox(db) == 1
    assert services.search(org.id, "disque", None).total == 0
    monkeypatch.undo()
    assert services.worker_tick(app) is True
    assert services.search(org.id, "disque", None).references() == [case.reference]
    assert outbox(db) == 0
    assert services.worker_tick(app) is False


def test_a_failed_statement_does_not_abort_the_case_transaction(org, db, monkeypatch):
    """An SQL error inside the hook is rolled back to its savepoint, not with the case."""
    case = factories.case(org, narrative="avant")
    monkeypatch.setattr(pg, "_UPSERT", text("INSERT INTO case_search_missing VALUES (:case_id, :vector)"))
    case.narrative = "après la coupure"
    enqueue_index(case.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Case, case.id).narrative == "après la coupure"
    assert outbox(db) == 1


def test_deleting_a_case_deletes_its_row(org, db):
    case = factories.case(org, narrative="Dossier à supprimer, mot unique zorglub.")
    assert services.search(org.id, "zorglub", None).total == 1
    db.session.delete(db.session.get(Case, case.id))
    db.session.commit()
    assert rows(db) == 0
    assert services.search(org.id, "zorglub", None).total == 0


def test_reindex_rebuilds_the_rows_and_health_says_so(register, org, app, db, client):
    expected = services.search(org.id, "récépissé", None).references()
    assert expected
    db.session.execute(pg.TABLE.delete())
    db.session.commit()
    assert services.search(org.id, "récépissé", None).total == 0
    result = app.test_cli_runner().invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "Index reconstruit" in result.output, result.output
    assert services.search(org.id, "récépissé", None).references() == expected
    assert rows(db) == db.session.scalar(select(func.count(Case.id)))
    assert services.index_health() == "ok"
    assert client.get("/healthz").status_code == 200


def test_worker_indexes_cases_written_before_the_table(register, org, app, db):
    db.session.execute(pg.TABLE.delete())
    db.session.commit()
    app.extensions.pop("pg_search_complete", None)
    assert services.worker_tick(app) is True
    assert services.search(org.id, "884213", None, identity=True).references() == [register.ivanov.reference]


def test_health_is_unavailable_without_the_table(app, db, client):
    db.session.execute(text("DROP TABLE case_search"))
    db.session.commit()
    assert services.index_health() == "indisponible"
    assert client.get("/healthz").status_code == 503


def test_role_split_is_in_the_weights(org, db):
    """Person fields (B), text read from pièces and event references (D) never match for roles
    without identity; the public text (C) does."""
    case = factories.case(org, last_name="Kowalczyk", first_name="Anya", numero_etranger="7511111111",
                          narrative="Attente du récépissé.")
    factories.event(db.session.get(Case, case.id), "CCC", description="Ticket CCC", reference="2025-CCC-771122")
    db.session.add(Exhibit(case_id=case.id, number=1, sha256="e" * 64, size=10, mime="image/png", extension="png",
                           description="Capture", ocr_text="Courrier de Bourgoin-Jallieu", ocr_status="done"))
    enqueue_index(case.id)
    db.session.commit()
    vector, public = db.session.execute(select(pg.TABLE.c.vector, pg.TABLE.c.public_vector)
                                        .where(pg.TABLE.c.case_id == case.id)).one()

    def lexemes(value: str) -> dict[str, str]:
        return {term.split("'")[1]: term.rsplit(":", 1)[1] for term in value.split(" ")}

    everything, public = lexemes(vector), lexemes(public)
    assert "B" in everything["kowalczyk"]  # ranked as the person's record
    for secret in ("kowalczyk", "7511111111", "771122", "2025-ccc-771122", "bourgoin-jallieu", "bourgoin"):
        assert secret in everything and secret not in public, secret
    assert "C" in public["recepiss"] and case.reference.lower() in public
    for text_, identity_count in (("Kowalczyk", 1), ("7511111111", 1), ("771122", 1), ("Bourgoin-Jallieu", 1),
                                  ("récépissé", 1)):
        assert services.search(org.id, text_, None, identity=True).total == identity_count, text_
    for text_ in ("Kowalczyk", "7511111111", "771122", "2025-CCC-771122", "Bourgoin-Jallieu", "kowal*"):
        assert services.search(org.id, text_, None, identity=False).total == 0, text_
        assert case.id not in services.matching_case_ids(org.id, text_, None, identity=False)
    assert services.search(org.id, "récépissé", None, identity=False).total == 1


def test_awkward_lexemes_survive_the_round_trip(org, db):
    """Quotes, backslashes and colons in terms: written into the tsvector and queried back."""
    terms = ["l'api", "a\\b", "x:y", "o'neil-2025", "é'\\'"]
    literal = pg.vector_literal({"text": " ".join(terms)})
    stored = db.session.scalar(text("SELECT CAST(:v AS tsvector)::text"), {"v": literal})
    for term in terms:
        query = pg.tsquery(wq.Or([wq.Term("text", term), wq.Prefix("ptext", term)]))
        assert db.session.scalar(text("SELECT CAST(:v AS tsvector) @@ CAST(:q AS tsquery)"),
                                 {"v": literal, "q": query}), (term, query, stored)
    assert services.search(org.id, "o'neil-2025 \\ : & | ! <-> '", None).total == 0


def _bulk_cases(org, n: int) -> None:
    persons = [{"org_id": org.id, "last_name": f"Nom{i}", "first_name": "Test", "numero_etranger": "",
                "phone": "", "email": "", "nationality": ""} for i in range(n)]
    person_ids = list(_db.session.scalars(insert(Person).returning(Person.id), persons))
    today = date(2025, 1, 1)
    now = datetime(2025, 1, 1)
    words = ["attente", "préfecture", "récépissé", "rendez-vous", "attestation", "titre", "séjour", "emploi"]
    cases = [{"org_id": org.id, "reference": f"LYO-2025-{i:05d}", "person_id": pid, "prefecture": "69",
              "demarche": "RENOUV", "titre_demande": "", "titre_actuel": "", "anef_number": "", "status": "OUVERT",
              "opened_on": today, "narrative": " ".join(words[j % len(words)] for j in range(i % 7, i % 7 + 5))
              + (" mot rarissime quinconce" if i == n // 2 else ""),
              "urgency": 0, "legal_hold": False, "version": 1, "created_at": now, "updated_at": now}
             for i, pid in enumerate(person_ids)]
    case_ids = list(_db.session.scalars(insert(Case).returning(Case.id), cases))
    _db.session.execute(insert(CaseCode), [{"case_id": c, "kind": "blocage", "code": "RDV", "position": 0}
                                           for c in case_ids])
    _db.session.commit()


def test_search_uses_the_gin_index_on_thousands_of_cases(org, db):
    _bulk_cases(org, 3000)
    assert services.rebuild_index() == 3000
    db.session.execute(text("ANALYZE case_search"))
    db.session.execute(text("ANALYZE cases"))
    db.session.commit()
    for identity, index in ((False, "ix_case_search_public_vector"), (True, "ix_case_search_vector")):
        found = pg._match(org.id, "quinconce", CaseFilters(), identity, "")  # noqa: SLF001
        statement = select(pg.TABLE.c.case_id).where(*found.conditions)
        sql = str(statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in db.session.connection().exec_driver_sql("EXPLAIN " + sql.replace("%", "%%")))
        assert f"Bitmap Index Scan on {index}" in plan, plan
    results = services.search(org.id, "quinconce", None)
    assert results.total == 1 and results.references() == ["LYO-2025-01500"]
    assert services.search(org.id, "préfecture", None).total > 1000
    assert services.search(org.id, "", {"code": "RDV"}).facets["code"][0].count == 3000
