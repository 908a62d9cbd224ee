"""Benchmark of the pooled figures: a coalition of 5 associations × N cases (dossier, workbook,
dashboard summary) and the public page once cached, each beside a same-run baseline.

    .venv/bin/python bench/figures.py              # 5 × 10,000 cases
    .venv/bin/python bench/figures.py --cases 2000 # quicker

Baselines: loading the same anonymised rows without computing anything (the floor of any
pooled file), and GET /login over the same test client (a small rendered page).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.exports import peak_mb, seed, timed  # noqa: E402

from app import create_app  # noqa: E402
from app.config import testing_config  # noqa: E402
from app.extensions import db  # noqa: E402

MEMBERS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per association")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="constat-bench-figures-"))
    app = create_app(testing_config(data_dir))
    with app.app_context():
        from app.auth.services import create_organisation
        from app.coalitions import services as coalitions
        from app.exports import rows as rows_mod, services
        from tests.factories import load_reference_data

        db.create_all()
        load_reference_data()
        # An empty search index now, so that no background rebuild of the seeded cases shares the GIL.
        from app.search.services import ensure_index
        ensure_index(background=False)
        coalition = coalitions.create("bench-reseau", "Réseau bench")
        orgs = []
        start = time.perf_counter()
        for k in range(MEMBERS):
            org = create_organisation(f"bench-{k}", f"Association bench {k}", f"B{k}")
            db.session.commit()
            seed(org.id, args.cases, first_id=k * args.cases + 1)
            coalitions.join(coalition, org)
            orgs.append(org)
        coalitions.set_published(coalition.slug, True)
        db.session.commit()
        total = MEMBERS * args.cases
        print(f"seeded {MEMBERS} associations × {args.cases} cases in {time.perf_counter() - start:.1f} s")

        def load_only():
            ids, _ = services.statistics_ids([o.id for o in orgs], None)
            return sum(1 for _ in rows_mod.iter_case_rows(ids, identified=False, key=services._key()))

        def pooled_dossier():
            export = services.export_pooled_dossier(coalition, None, source="bench")
            db.session.rollback()
            return export

        def pooled_workbook():
            export = services.export_pooled_workbook(coalition, None, source="bench")
            db.session.rollback()
            return export

        base, loaded = timed(load_only, 1)
        assert loaded == total
        dossier_s, dossier = timed(pooled_dossier, 1)
        workbook_s, workbook = timed(pooled_workbook, 1)
        summary_s, _ = timed(lambda: services.pooled_summary(coalition), 1)
        print(f"baseline: load {total} anonymised rows (no computation): {base:.2f} s")
        print(f"pooled dossier ({total} cases, {len(dossier.content) / 1e6:.1f} MB): {dossier_s:.2f} s "
              f"({dossier_s / base:.1f}× the load) — target ≤ 20 s")
        print(f"pooled workbook ({workbook.rows} cases, {len(workbook.content) / 1e6:.1f} MB): {workbook_s:.2f} s")
        print(f"pooled dashboard summary: {summary_s:.2f} s")
        one = [o.id for o in orgs[:1]]
        small_peak = peak_mb(lambda: services.summary_for(one, None, anonymised=True))
        big_peak = peak_mb(lambda: services.pooled_summary(coalition))
        dossier_peak = peak_mb(pooled_dossier)
        print(f"peak memory (tracemalloc): summary of {args.cases} cases {small_peak:.0f} MB, of {total} cases "
              f"{big_peak:.0f} MB; pooled dossier {dossier_peak:.0f} MB")
        slug = coalition.slug

    client = app.test_client()
    first = time.perf_counter()
    assert client.get(f"/stats/{slug}").status_code == 200
    first = time.perf_counter() - first

    def median_ms(path: str, n: int = 50) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.status_code
        return statistics.median(times)

    cached = median_ms(f"/stats/{slug}")
    health = median_ms("/login")
    print(f"public page /stats/{slug}: first render {first:.2f} s; cached median {cached:.1f} ms "
          f"(target ≤ 100 ms); baseline GET /login (a small rendered page) {health:.1f} ms")


if __name__ == "__main__":
    main()
