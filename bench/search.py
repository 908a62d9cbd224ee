"""Search benchmark: N synthetic French cases, whoosh (the app's search) against SQLite FTS5.

    .venv/bin/python bench/search.py --n 10000 [--runs 5] [--no-http] [--keep DIR]

Prints build time, index size, per-query latency (search call with exact count, facets and
top 20 with highlighted excerpts), p50/p95, one-case update time, the search page over HTTP,
and the same corpus and queries on SQLite FTS5 (unicode61 remove_diacritics 2) as baseline.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, update  # noqa: E402

from app import create_app  # noqa: E402
from app.config import Config  # noqa: E402

LAST = ["Diallo", "Traoré", "Koné", "Camara", "Touré", "Benali", "Haddad", "Mansouri", "Bouzid", "Cissé",
        "Nguyễn", "Trần", "Lê", "Phạm", "Иванов", "Петренко", "Kovalenko", "Shevchenko", "Popescu", "Mendes",
        "Da Silva", "Okafor", "Mbappé", "Kaba", "Sow", "Bah", "Ndiaye", "Fofana", "Sylla", "Keita",
        "Rahmani", "Amrani", "El Idrissi", "Chaouch", "Yilmaz", "Demir", "Hussain", "Rahman", "Begum", "Ali",
        "محمد", "حسن", "Abdallah", "Mohamed", "Nzeza", "Lukusa", "Mukendi", "Tshibangu", "Kamara", "Bangura"]
FIRST = ["Amadou", "Mariam", "Fatoumata", "Ibrahima", "Aïssata", "Moussa", "Karim", "Yasmina", "Nadia", "Samir",
         "Văn Đức", "Thị Lan", "Minh", "Алексей", "Олена", "Oksana", "Andrii", "Ioana", "João", "Chinonso",
         "Ousmane", "Kadiatou", "Mamadou", "Awa", "Fatima", "Youssef", "Leïla", "Mehmet", "Ayşe", "Rahim",
         "Sadia", "Omar", "أحمد", "Mohammed", "Grace", "Patience", "Jean-Pierre", "Marie-Claire", "Aminata", "Sekou"]
PREFS = ["69", "75", "93", "38", "13", "59", "33", "31", "44", "67", "94", "92", "91", "06", "34", "76", "2A", "974"]
DEMARCHES = ["RENOUV", "PREMIERE", "CHGT-STATUT", "DUPLICATA", "CHGT-SITU", "DCEM", "NATURALISATION"]
STATUSES = ["OUVERT", "EN-COURS", "RESOLU", "CLOS"]
CODES = ["API-ABS", "API-RENOUV", "DEP-ERREUR", "INSTR-SILENCE", "RDV", "ACC-AUTH", "DEP-TITRE", "CARTE",
         "ACCOMP", "SUBST", "NUM", "DEP-SIMULT", "API-MENTION", "CLOS", "DEP-MODIF"]
TITRES = ["carte de séjour temporaire « salarié »", "titre de séjour « vie privée et familiale »",
          "carte de résident", "carte pluriannuelle « passeport talent »", "titre de séjour « étudiant »",
          "carte de séjour « travailleur temporaire »", "titre de séjour « parent d'enfant français »"]
SENTENCES = [
    "La personne a tenté de déposer sa demande de renouvellement sur l'ANEF le {d}, sans succès.",
    "Le message « une erreur technique est survenue » s'affiche à chaque tentative de dépôt.",
    "Son titre de séjour a expiré le {d} et aucune attestation de prolongation d'instruction n'a été délivrée.",
    "Elle a été licenciée par son employeur faute de document valide, après huit ans dans l'entreprise.",
    "Il a perdu son emploi de {job} : l'employeur exige un récépissé ou une API.",
    "Le CCC a été contacté à plusieurs reprises ; le ticket reste sans réponse depuis {n} semaines.",
    "Aucun rendez-vous n'est disponible en préfecture pour la remise du titre.",
    "La CAF a suspendu les allocations logement et le RSA depuis {d}.",
    "France Travail a radié la personne faute d'autorisation de travail.",
    "La demande est « en cours d'instruction » depuis {n} mois, sans aucune nouvelle de la préfecture.",
    "Le compte ANEF est inaccessible : le courriel de réinitialisation du mot de passe n'arrive jamais.",
    "La plateforme ne reconnaît pas le titre précédent, pourtant remis en préfecture.",
    "Un courrier recommandé avec accusé de réception a été envoyé à la préfecture le {d}.",
    "Le point d'accueil numérique a renvoyé la personne vers le site internet.",
    "Une saisine du Défenseur des droits a été déposée le {d}.",
    "Un référé mesures utiles est envisagé devant le tribunal administratif.",
    "La personne n'a ni ordinateur ni adresse électronique et dépend des bénévoles.",
    "L'attestation de dépôt ne permet pas de justifier du séjour régulier auprès de l'employeur.",
    "Le renouvellement a été demandé dans les délais, quatre mois avant l'expiration.",
    "La solution de substitution a été refusée par la préfecture sans motif écrit.",
    "Sa fille est scolarisée et la famille risque de perdre son logement social.",
    "La CPAM a interrompu la couverture santé, alors qu'un traitement est en cours.",
    "La préfecture répond que le dossier est complet mais aucune décision n'est prise.",
    "Les pièces justificatives ont été téléversées trois fois, le paiement du timbre fiscal échoue.",
]
RARE = ["kinésithérapeute", "boulangerie", "Villeurbanne", "apprentissage", "maraîchage", "soudeur",
        "Vénissieux", "ostéopathe", "chaudronnier", "Bobigny", "orthophoniste", "viticulture"]
JOBS = ["aide-soignante", "cuisinier", "agent de sécurité", "maçon", "auxiliaire de vie", "chauffeur",
        "serveuse", "plombier", "informaticien", "agent d'entretien"]
EVENT_TYPES = ["TENTATIVE", "ERREUR", "CCC", "PAN", "PREF", "DEPOT", "API", "API-FIN", "SUBST", "DDD",
               "REFERE", "EMPLOI", "PRESTA", "TITRE-EXP"]
EVENT_TEXT = {
    "TENTATIVE": "Tentative de dépôt sur l'ANEF, bloquée à l'étape du paiement.",
    "ERREUR": "Erreur ANEF : « une erreur technique est survenue, veuillez réessayer plus tard ».",
    "CCC": "Appel au centre de contact citoyen, demande transmise sans suite.",
    "PAN": "Visite au point d'accueil numérique de la préfecture.",
    "PREF": "Courriel à la préfecture pour signaler le blocage.",
    "DEPOT": "Dépôt enfin réussi, attestation de dépôt reçue.",
    "API": "Attestation de prolongation d'instruction délivrée pour trois mois.",
    "API-FIN": "L'API a expiré sans renouvellement.",
    "SUBST": "Demande de solution de substitution par lettre recommandée.",
    "DDD": "Saisine du Défenseur des droits en ligne.",
    "REFERE": "Référé mesures utiles déposé au tribunal administratif.",
    "EMPLOI": "Suspension du contrat de travail, licenciement annoncé.",
    "PRESTA": "Suspension des prestations de la CAF.",
    "TITRE-EXP": "Expiration du titre de séjour.",
}


def build_corpus(app, n: int, seed: int = 7) -> dict:
    """Insert n cases (persons, codes, events, a few OCR'd exhibits) straight into the database."""
    from app.audit.models import AuditChainHead
    from app.auth import services as accounts
    from app.cases.models import Case, CaseCode, Event, Person
    from app.cases.taxonomy import sync_shipped_codes
    from app.evidence.models import Exhibit
    from app.extensions import db

    rng = random.Random(seed)
    sync_shipped_codes()
    db.session.add(AuditChainHead(id=1, seq=0, last_hash="0" * 64))
    org = accounts.create_organisation("bench-lyon", "Bench Lyon", "LYO")
    other = accounts.create_organisation("bench-paris", "Bench Paris", "PAR")
    user = accounts.create_user("benevole@bench.test", org, "volunteer", "correct horse battery staple x",
                                full_name="Bénévole Bench")
    db.session.commit()
    truth: dict = {"org_id": org.id, "other_id": other.id, "user_email": user.email}
    start = date(2023, 1, 1)
    persons, cases, codes, events, exhibits = [], [], [], [], []
    for i in range(1, n + 1):
        opened = start + timedelta(days=rng.randrange(0, 900))
        org_id = org.id if i % 20 else other.id  # 5 % in another association
        last, first = rng.choice(LAST), rng.choice(FIRST)
        numero = str(7_500_000_000 + rng.randrange(0, 99_999_999))
        persons.append({"id": i, "org_id": org_id, "last_name": last, "first_name": first,
                        "numero_etranger": numero, "phone": f"06 {rng.randrange(10, 99)} {rng.randrange(10, 99)} "
                                                            f"{rng.randrange(10, 99)} {rng.randrange(10, 99)}",
                        "email": f"p{i}@exemple.fr" if rng.random() < 0.4 else "", "nationality": ""})
        sentences = rng.sample(SENTENCES, rng.randrange(3, 7))
        text = " ".join(s.format(d=(opened - timedelta(days=rng.randrange(0, 200))).strftime("%d/%m/%Y"),
                                 n=rng.randrange(2, 14), job=rng.choice(JOBS)) for s in sentences)
        if rng.random() < 0.03:
            text += f" Elle travaillait comme {rng.choice(RARE)} avant la rupture de droits."
        anef = f"ANEF-{rng.choice(PREFS)}-{opened.year}-{i:06d}" if rng.random() < 0.6 else ""
        pref = rng.choice(PREFS)
        cases.append({"id": i, "org_id": org_id, "reference": f"{'LYO' if org_id == org.id else 'PAR'}-{opened.year}-{i:05d}",
                      "person_id": i, "prefecture": pref, "demarche": rng.choice(DEMARCHES),
                      "titre_demande": rng.choice(TITRES), "titre_actuel": rng.choice(TITRES),
                      "titre_expiry": opened - timedelta(days=rng.randrange(-100, 300)), "anef_number": anef,
                      "status": rng.choice(STATUSES), "first_attempt": opened - timedelta(days=rng.randrange(0, 60)),
                      "opened_on": opened, "narrative": text, "urgency": rng.randrange(0, 4),
                      "urgency_on": opened, "legal_hold": False, "version": 1,
                      "created_at": datetime(opened.year, opened.month, opened.day),
                      "updated_at": datetime(opened.year, opened.month, opened.day)})
        for position, code in enumerate(rng.sample(CODES, rng.randrange(1, 4))):
            codes.append({"case_id": i, "kind": "blocage", "code": code, "position": position})
        for _ in range(rng.randrange(2, 8)):
            kind = rng.choice(EVENT_TYPES)
            reference = ""
            if kind == "CCC":
                reference = f"{opened.year}-CCC-{rng.randrange(100000, 999999)}"
            elif kind == "PREF":
                reference = f"1A {rng.randrange(100, 999)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)} 3"
            elif kind == "REFERE":
                reference = f"{opened.year % 100}0{rng.randrange(10000, 99999)}"
            events.append({"case_id": i, "date": opened + timedelta(days=rng.randrange(0, 120)), "type": kind,
                           "description": EVENT_TEXT[kind], "reference": reference,
                           "created_at": datetime(opened.year, opened.month, opened.day)})
        if rng.random() < 0.15:
            exhibits.append({"case_id": i, "number": 1, "sha256": f"{i:064x}", "size": 1000, "mime": "image/png",
                             "extension": "png", "original_name": "capture.png", "description": "Capture d'écran ANEF",
                             "ocr_text": "Une erreur technique est survenue. Veuillez réessayer ultérieurement. "
                                         f"Code erreur {rng.randrange(1000, 9999)}. Votre demande n° {anef or 'inconnue'}",
                             "ocr_status": "done", "added_at": datetime(opened.year, opened.month, opened.day)})
    for table, rows in ((Person, persons), (Case, cases), (CaseCode, codes), (Event, events), (Exhibit, exhibits)):
        for chunk in range(0, len(rows), 5000):
            db.session.execute(insert(table), rows[chunk:chunk + 5000])
    db.session.commit()
    # Ground truth for the queries: a few concrete values from the corpus.
    mine = [c for c in cases if c["org_id"] == org.id]
    pick = rng.Random(3) if False else random.Random(3)
    sample = pick.choice(mine)
    truth["numero"] = persons[sample["id"] - 1]["numero_etranger"]
    truth["numero_ref"] = sample["reference"]
    ccc = next(e for e in events if e["reference"].startswith(("2023-CCC", "2024-CCC", "2025-CCC"))
               and cases[e["case_id"] - 1]["org_id"] == org.id)
    truth["ccc"] = ccc["reference"]
    truth["ccc_ref"] = cases[ccc["case_id"] - 1]["reference"]
    anef_case = next(c for c in mine if c["anef_number"])
    truth["anef"] = anef_case["anef_number"]
    truth["anef_ref"] = anef_case["reference"]
    truth["prefix"] = mine[len(mine) // 2]["reference"][:-2]
    truth["rows"] = {"cases": len(cases), "events": len(events), "exhibits": len(exhibits)}
    return truth


def queries(truth: dict) -> list[tuple[str, str, dict]]:
    """(kind, text, filters) — at least 20 realistic queries."""
    return [
        ("name", "Diallo", {}),
        ("name", "Nguyen Van Duc", {}),
        ("name", "Иванов Алексей", {}),
        ("name", "ivanov", {}),
        ("number", truth["numero"], {}),
        ("number", truth["ccc"].split("-")[-1], {}),
        ("number", truth["ccc"], {}),
        ("number", truth["anef"], {}),
        ("reference", truth["prefix"], {}),
        ("rare", "kinésithérapeute", {}),
        ("rare", "boulangerie Villeurbanne", {}),
        ("common", "préfecture", {}),
        ("common", "attestation", {}),
        ("common", "erreur", {}),
        ("stemmed", "licenciée", {}),
        ("stemmed", "renouveler", {}),
        ("accents", "recepisse", {}),
        ("accents", "récépissé", {}),
        ("accents", "delivree", {}),
        ("phrase", '"titre de séjour"', {}),
        ("phrase", '"erreur technique"', {}),
        ("phrase", '"une erreur technique est survenue"', {}),
        ("filters", "attestation", {"prefecture": "69"}),
        ("filters", "API non délivrée Isère", {}),
        ("filters", "CAF", {"status": "OUVERT", "code": "API-ABS"}),
        ("filters", "", {"prefecture": "93", "status": "EN-COURS"}),
    ]


# --- SQLite FTS5 baseline -------------------------------------------------------------------

def build_fts(app, path: Path) -> float:
    from app.extensions import db
    from app.search import documents as docs_mod

    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE cases(id INTEGER PRIMARY KEY, org_id INT, reference TEXT, prefecture TEXT, "
                "status TEXT, demarche TEXT, opened_on TEXT)")
    con.execute("CREATE TABLE codes(case_id INT, code TEXT)")
    con.execute("CREATE INDEX codes_case ON codes(case_id)")
    con.execute("CREATE VIRTUAL TABLE fts USING fts5(body, person, tokenize='unicode61 remove_diacritics 2')")
    start = time.perf_counter()
    from app.cases.models import Case

    ids = list(db.session.scalars(select(Case.id).order_by(Case.id)))
    labels = docs_mod.Labels(db.session)
    for chunk in range(0, len(ids), 500):
        batch = ids[chunk:chunk + 500]
        cases = docs_mod.load_cases(db.session, batch)
        exhibits = docs_mod.load_exhibits(db.session, batch)
        rows, fts, codes = [], [], []
        for case in cases:
            text = docs_mod.case_text(case, exhibits.get(case.id, []), labels)
            body = "\n".join(s.text for s in docs_mod.public_sources(text))
            person = " ".join(v for values in text.person_values.values() for v in values)
            rows.append((case.id, case.org_id, case.reference, case.prefecture, case.status, case.demarche,
                         case.opened_on.isoformat()))
            fts.append((case.id, body, person))
            codes.extend((case.id, c) for c in case.blocages)
        con.executemany("INSERT INTO cases VALUES (?,?,?,?,?,?,?)", rows)
        con.executemany("INSERT INTO fts(rowid, body, person) VALUES (?,?,?)", fts)
        con.executemany("INSERT INTO codes VALUES (?,?)", codes)
        db.session.expunge_all()
    con.commit()
    con.close()
    return time.perf_counter() - start


def fts_expression(text: str) -> str:
    """The same words as the app's query, in FTS5 syntax (each word quoted; phrases kept)."""
    import re

    parts = []
    for chunk in re.findall(r'"[^"]*"?|\S+', text):
        words = re.findall(r"\w+", chunk)
        if not words:
            continue
        if chunk.startswith('"') or len(words) > 1:
            parts.append('"' + " ".join(words) + '"')
        else:
            parts.append(f'"{words[0]}"')
    return " AND ".join(parts)


def fts_search(con, org_id: int, text: str, filters: dict) -> tuple[int, list]:
    where = ["c.org_id = ?"]
    args: list = [org_id]
    for key, column in (("prefecture", "prefecture"), ("status", "status"), ("demarche", "demarche")):
        if filters.get(key):
            where.append(f"c.{column} = ?")
            args.append(filters[key])
    if filters.get("code"):
        where.append("c.id IN (SELECT case_id FROM codes WHERE code = ?)")
        args.append(filters["code"])
    expression = fts_expression(text)
    if expression:
        # CROSS JOIN keeps SQLite from starting at the status index (perf-notes' planner trap).
        matched = ("SELECT c.id FROM fts CROSS JOIN cases c ON c.id = fts.rowid "  # noqa: S608 (fixed columns)
                   f"WHERE fts MATCH ? AND {' AND '.join(where)}")
        margs = [expression, *args]
    else:
        matched = f"SELECT c.id FROM cases c WHERE {' AND '.join(where)}"  # noqa: S608
        margs = args
    con.execute("DROP TABLE IF EXISTS temp.m")
    con.execute(f"CREATE TEMP TABLE m AS {matched}", margs)
    total = con.execute("SELECT count(*) FROM m").fetchone()[0]
    for column in ("prefecture", "status", "demarche"):
        con.execute(f"SELECT c.{column}, count(*) FROM m JOIN cases c ON c.id = m.id GROUP BY 1").fetchall()  # noqa: S608
    con.execute("SELECT code, count(*) FROM m JOIN codes ON codes.case_id = m.id GROUP BY 1").fetchall()
    if expression:
        # Rank first, then build snippets for the 20 shown rows only.
        ids = [r[0] for r in con.execute(
            # "+rowid": a bare rowid IN (…) makes FTS5 re-run the MATCH once per candidate row.
            "SELECT rowid FROM fts WHERE fts MATCH ? AND +rowid IN (SELECT id FROM m) ORDER BY rank LIMIT 20",
            [expression])]
        top = con.execute(
            f"SELECT rowid, snippet(fts, 0, '<mark>', '</mark>', '…', 24) FROM fts "  # noqa: S608
            f"WHERE fts MATCH ? AND rowid IN ({','.join('?' * len(ids))})", [expression, *ids]).fetchall()
    else:
        top = con.execute("SELECT m.id FROM m JOIN cases c ON c.id = m.id ORDER BY c.opened_on DESC LIMIT 20"
                          ).fetchall()
    return total, top


# --- measuring ------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return 0.0
    k = (len(values) - 1) * q
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def timed(fn, runs: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


def http_page_times(app, truth: dict, qs, runs: int) -> list[float]:
    """GET /search over real HTTP (werkzeug threaded server), logged in as a volunteer."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    import re

    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"email": truth["user_email"], "password": "correct horse battery staple x",
                                   "csrf_token": token}).encode()
    opener.open(base + "/login", data=data).read()
    samples = []
    try:
        for _kind, text, filters in qs:
            url = base + "/search?" + urllib.parse.urlencode({"q": text, **filters})
            opener.open(url).read()  # warm
            for _ in range(runs):
                start = time.perf_counter()
                response = opener.open(url)
                body = response.read()
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status == 200 and b"dossier" in body
    finally:
        server.shutdown()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--keep", help="keep the data directory here")
    parser.add_argument("--reuse", action="store_true", help="with --keep: reuse the corpus and indexes built there")
    parser.add_argument("--profile-build", action="store_true", help="profile the index build and stop")
    parser.add_argument("--workers", type=int, default=2, help="processes building documents (as `search reindex`)")
    parser.add_argument("--rebuild", action="store_true", help="with --reuse: rebuild the whoosh index (timed)")
    parser.add_argument("--profile", help="profile the whoosh search call for this query and stop")
    parser.add_argument("--postgres", metavar="URL",
                        help="run the app's search on this PostgreSQL database (its public schema is emptied) "
                             "instead of SQLite + whoosh; FTS5 stays the baseline")
    args = parser.parse_args()

    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="constat-bench-"))
    reuse = bool(args.reuse and args.keep and (data_dir / "fts.db").exists())
    if data_dir.exists() and args.keep and not reuse:
        shutil.rmtree(data_dir)
    config = Config(DATA_DIR=data_dir, SQLALCHEMY_DATABASE_URI=args.postgres or f"sqlite:///{data_dir / 'constat.db'}",
                    START_WORKERS=False, SECRET_KEY="bench-only", WTF_CSRF_ENABLED=True)  # noqa: S106
    app = create_app(config)
    from app.extensions import db
    from app.search import services

    with app.app_context():
        if reuse:
            import json

            truth = json.loads((data_dir / "truth.json").read_text())
            bench_queries_and_updates(app, args, truth, data_dir)
            return
        if args.postgres:  # a fresh schema: the corpus ids start at 1
            from sqlalchemy import text as sql

            with db.engine.begin() as conn:
                conn.execute(sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.create_all()
        start = time.perf_counter()
        truth = build_corpus(app, args.n)
        print(f"corpus: {truth['rows']} generated in {time.perf_counter() - start:.1f} s")
        if args.keep:
            import json

            (data_dir / "truth.json").write_text(json.dumps(truth))

        if args.profile_build:
            import cProfile
            import pstats

            cProfile.runctx("services.rebuild_index()", globals(), {"services": services}, str(data_dir / "prof"))
            pstats.Stats(str(data_dir / "prof")).sort_stats("tottime").print_stats(25)
            return
        start = time.perf_counter()
        count = services.rebuild_index(workers=args.workers)
        build = time.perf_counter() - start
        size = services._holder().size_bytes()
        if args.postgres:  # the search rows and their GIN index
            from sqlalchemy import text as sql

            size = db.session.scalar(sql("SELECT pg_total_relation_size('case_search')"))
            db.session.execute(sql("ANALYZE case_search"))
            db.session.commit()
        print(f"{'PostgreSQL' if args.postgres else 'whoosh'} build ({args.workers} worker(s)): {count} cases in "
              f"{build:.1f} s = {count / build:.0f} cases/s; index {size / 1e6:.1f} MB")
        fts_path = data_dir / "fts.db"
        fts_build = build_fts(app, fts_path)
        print(f"FTS5 build: {fts_build:.1f} s (documents built by the same code); "
              f"size {fts_path.stat().st_size / 1e6:.1f} MB")
        bench_queries_and_updates(app, args, truth, data_dir)
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)


def bench_queries_and_updates(app, args, truth: dict, data_dir: Path) -> None:
    from app.extensions import db
    from app.search import services

    fts_path = data_dir / "fts.db"
    if args.rebuild or (not args.postgres and not services._usable(services._holder())):  # --reuse after a schema change
        start = time.perf_counter()
        count = services.rebuild_index(workers=args.workers)
        print(f"whoosh rebuild: {count} cases in {time.perf_counter() - start:.1f} s; "
              f"index {services._holder().size_bytes() / 1e6:.1f} MB")
    if True:
        qs = queries(truth)
        org_id = truth["org_id"]
        if args.profile:
            import cProfile
            import pstats

            services.search(org_id, args.profile, None, identity=True)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                services.search(org_id, args.profile, None, identity=True)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
            return
        con = sqlite3.connect(fts_path)
        services.search(org_id, "préfecture", None, identity=True)  # open the searcher once
        w_all, f_all = [], []
        print(f"\n{'kind':10} {'query':42} {'hits':>6} {'whoosh ms':>10} {'FTS5 ms':>8} {'ratio':>6}  top")
        for kind, text, filters in qs:
            w_samples, result = timed(lambda t=text, f=filters: services.search(
                org_id, t, f, identity=True, per_page=20), args.runs)
            f_samples, (f_total, _top) = timed(lambda t=text, f=filters: fts_search(con, org_id, t, f), args.runs)
            w_all += w_samples
            f_all += f_samples
            wm, fm = statistics.median(w_samples), statistics.median(f_samples)
            label = (text + (" " + str(filters) if filters else ""))[:42]
            print(f"{kind:10} {label:42} {result.total:>6} {wm:>10.1f} {fm:>8.1f} {wm / fm:>6.1f}  "
                  f"{', '.join(result.references()[:2])} (FTS5 {f_total})")
        print(f"\nwhoosh search call (count + facets + top 20 with excerpts): p50 {percentile(w_all, .5):.1f} ms, "
              f"p95 {percentile(w_all, .95):.1f} ms, max {max(w_all):.1f} ms")
        print(f"FTS5 same work:                                          p50 {percentile(f_all, .5):.1f} ms, "
              f"p95 {percentile(f_all, .95):.1f} ms, max {max(f_all):.1f} ms")
        print(f"ratios whoosh/FTS5: p50 {percentile(w_all, .5) / percentile(f_all, .5):.2f}, "
              f"p95 {percentile(w_all, .95) / percentile(f_all, .95):.2f}")
        for want in ("name", "number", "rare"):
            sel = [statistics.median(timed(lambda t=t, f=f: services.search(org_id, t, f, identity=True), 3)[0])
                   for k, t, f in qs if k == want]
            print(f"  selective '{want}': worst median {max(sel):.1f} ms")

        # Update one case: the after-commit path (re-read from the database, write, commit).
        from app.cases.models import Case
        from app.cases.services import enqueue_index

        samples, fts_samples = [], []
        fcon = sqlite3.connect(fts_path)
        fcon.execute("PRAGMA synchronous=NORMAL")
        for i in range(7):
            case_id = db.session.scalar(select(Case.id).where(Case.org_id == org_id).offset(100 + i * 37).limit(1))
            db.session.execute(update(Case).where(Case.id == case_id).values(
                narrative=f"Mise à jour {i} : nouveau blocage signalé par la préfecture."))
            enqueue_index(case_id)
            start = time.perf_counter()
            db.session.commit()  # the session hook drains the outbox after commit
            samples.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            fcon.execute("UPDATE fts SET body = ? WHERE rowid = ?", (f"Mise à jour {i}", case_id))
            fcon.commit()
            fts_samples.append((time.perf_counter() - start) * 1000)
        found = services.search(org_id, '"nouveau blocage signalé"', None).total
        print(f"\nupdate one case (commit + index write): median {statistics.median(samples):.1f} ms, "
              f"max {max(samples):.1f} ms; FTS5 median {statistics.median(fts_samples):.2f} ms; "
              f"updated cases found: {found}")
        after, _ = timed(lambda: services.search(org_id, "attestation", {"prefecture": "69"}, identity=True), 3)
        print(f"first searches after an update (caches rebuilt): {', '.join(f'{s:.0f}' for s in after)} ms")

        if not args.no_http:
            page = http_page_times(app, truth, qs, 3)
            print(f"\nsearch page over HTTP: p50 {percentile(page, .5):.1f} ms, p95 {percentile(page, .95):.1f} ms")


if __name__ == "__main__":
    main()
