"""Two real processes updating the index at once: no failure, no lost update."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from app.search import services
from app.search.models import IndexOutbox
from tests import factories

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys
    from datetime import date
    from pathlib import Path

    from app import create_app
    from app.cases import services as cases
    from app.cases.models import Case
    from app.cases.services import EventInput
    from app.config import testing_config
    from app.extensions import db

    data_dir, name, shared_id, own_id, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    app = create_app(testing_config(data_dir))
    with app.app_context():
        for i in range(rounds):
            # Both processes append to the same case (append-only timeline: every event must
            # end up in the index) and rewrite their own case's narrative.
            shared = db.session.get(Case, shared_id)
            cases.add_event(shared, EventInput(date(2025, 3, 1), "PAN", f"passage jeton{name}x{i}"), None)
            db.session.commit()
            own = db.session.get(Case, own_id)
            own.narrative = f"version jeton{name}v{i}"
            cases.enqueue_index(own.id)
            db.session.commit()
    print("ok")
""")


def test_two_processes_update_at_once(app, org, db):
    shared = factories.case(org, narrative="dossier partagé")
    own_a = factories.case(org, narrative="dossier A")
    own_b = factories.case(org, narrative="dossier B")
    rounds = 12
    data_dir = app.config["DATA_DIR"]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir), name, str(shared.id), str(own.id),
                               str(rounds)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, own in (("a", own_a), ("b", own_b))]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
        assert "Traceback" not in err, err[-2000:]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(IndexOutbox.id))) == 0  # nothing left behind
    for name in ("a", "b"):
        for i in range(rounds):
            found = services.search(org.id, f"jeton{name}x{i}", None).references()
            assert found == [shared.reference], (name, i, found)
    # Each own case shows its last version only, once.
    assert services.search(org.id, f"jetonav{rounds - 1}", None).references() == [own_a.reference]
    assert services.search(org.id, f"jetonbv{rounds - 1}", None).references() == [own_b.reference]
    assert services.search(org.id, "jetonav0", None).total == 0
    assert services.search(org.id, "", None).total == 3
