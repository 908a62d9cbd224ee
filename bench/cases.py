"""Benchmark of the case register: import of N rows, list page and case page latency.

Usage: .venv/bin/python bench/cases.py [--n 10000]
Prints figures; targets (issue 2): list < 100 ms median, case page with 60 events < 50 ms,
import of 10,000 rows < 30 s; (issue 11) list sorted by next deadline < 100 ms, « Échéances » ≤ 150 ms. Baseline in the same run: a bare `SELECT` of one page of cases,
so the ratio shows what the page rendering adds on this (noisy) machine.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from app.config import testing_config  # noqa: E402
from app.core.spreadsheet import CASE_COLUMNS  # noqa: E402

CODES = ["ACC-AUTH", "DEP-TITRE", "DEP-ERREUR", "RDV", "INSTR-SILENCE", "API-ABS", "API-RENOUV", "CARTE"]
WORDS = ("dépôt impossible erreur technique préfecture attestation récépissé titre séjour renouvellement "
         "employeur licenciement rendez-vous plateforme courriel relance silence instruction").split()


def write_rows(path: Path, n: int) -> None:
    rng = random.Random(1)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CASE_COLUMNS)
        for i in range(n):
            # Around today, so that the deadlines (renewal windows, titres expiring) exist at any date.
            expiry = date.today() + timedelta(days=rng.randint(-450, 450))
            values = {"Référence": f"B-{i:06d}", "Nom": f"Nom{i}", "Prénom": "Awa", "Préfecture": rng.choice(["69", "38", "75", "93"]),
                      "Démarche": "RENOUV", "Blocage": ";".join(rng.sample(CODES, 2)), "Statut": rng.choice(["OUVERT", "EN-COURS"]),
                      "Expiration du titre": expiry.isoformat(), "Numéro étranger": str(rng.randint(10**9, 10**10 - 1)),
                      "Récit": " ".join(rng.choices(WORDS, k=60))}
            writer.writerow([values.get(c, "") for c in CASE_COLUMNS])


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(testing_config(Path(tmp) / "data"))
        with app.app_context():
            from app.auth import services as accounts
            from app.cases import services
            from app.cases.importer import import_file
            from app.cases.models import Case
            from app.cases.services import EventInput
            from app.extensions import db

            upgrade()
            org = accounts.create_organisation("bench", "Bench", "BEN")
            user = accounts.create_user("b@bench.test", org, "volunteer", "bench password long")
            db.session.commit()
            source = Path(tmp) / "cases.csv"
            write_rows(source, args.n)
            start = time.perf_counter()
            report = import_file(source, org, user, max_bytes=10**9)
            db.session.commit()
            import_s = time.perf_counter() - start
            case = db.session.scalar(select(Case).where(Case.org_id == org.id).limit(1))
            for i in range(60):
                services.add_event(case, EventInput(date(2024, 1, 1) + timedelta(days=i * 7), "TENTATIVE",
                                                    "Nouvelle tentative, même erreur technique."), user)
            db.session.commit()
            case_id = case.id
        client = app.test_client()
        with app.app_context():
            client.post("/login", data={"email": "b@bench.test", "password": "bench password long"})
        app.config["WTF_CSRF_ENABLED"] = False
        client.post("/login", data={"email": "b@bench.test", "password": "bench password long"})
        refresh_ms = timed(lambda: client.get("/cases/"), 1)  # includes the daily urgency and deadline refresh
        list_ms = timed(lambda: client.get("/cases/"), 20)
        deadline_sorted_ms = timed(lambda: client.get("/cases/?sort=echeance"), 20)
        deadlines_ms = timed(lambda: client.get("/deadlines"), 20)
        deadlines_week_ms = timed(lambda: client.get("/deadlines?days=7&kind=TITRE"), 20)
        filtered_ms = timed(lambda: client.get("/cases/?prefecture=38&code=RDV&page=3"), 20)
        case_ms = timed(lambda: client.get(f"/cases/{case_id}"), 20)
        with app.app_context():
            from app.extensions import db

            baseline_ms = timed(lambda: db.session.execute(
                select(Case).order_by(Case.urgency.desc()).limit(50)).all(), 20)
    print(f"import of {report.cases} rows: {import_s:.1f} s ({report.cases / import_s:.0f} rows/s)  [target < 30 s for 10,000]")
    print(f"first list page of the day (at most PAGE_REFRESH_SECONDS of the recomputation; later pages or the worker do the rest): {refresh_ms[0] / 1000:.1f} s")
    for label, values, target in (("case list page 1", list_ms, 100), ("case list filtered page 3", filtered_ms, 100),
                                  ("case list sorted by next deadline", deadline_sorted_ms, 100),
                                  ("« Échéances », 90 days", deadlines_ms, 150),
                                  ("« Échéances », 7 days, one kind", deadlines_week_ms, 150),
                                  ("case page, 60 events", case_ms, 50)):
        print(f"{label}: median {statistics.median(values):.1f} ms, max {max(values):.1f} ms  [target < {target} ms median]")
    print(f"baseline bare SELECT of one page: median {statistics.median(baseline_ms):.2f} ms "
          f"(list page = {statistics.median(list_ms) / statistics.median(baseline_ms):.0f}x)")


if __name__ == "__main__":
    main()
