"""Crashes: `flask cases import` killed with SIGKILL in the middle of writing leaves either every
row or none (here: none), the database sound, and the same import then succeeds."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app.audit.services import verify_chain
from app.cases.models import Case, CaseCode, Person
from app.core.spreadsheet import CASE_COLUMNS
from app.extensions import db as _db
from app.search.models import IndexOutbox
from tests.backup.conftest import FLASK, ROOT, is_postgres, subprocess_env

pytestmark = pytest.mark.slow
ROWS = 8000
APP_NAME = "constat-import-kill-test"


def big_csv(path: Path, rows: int = ROWS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CASE_COLUMNS)
        for number in range(rows):
            row = {"Nom": f"Nom{number}", "Prénom": "Awa", "Numéro étranger": f"{1000000000 + number}",
                   "Préfecture": "69", "Démarche": "RENOUV", "Blocage": "API-ABS; ACC-AUTH", "Statut": "OUVERT",
                   "Conséquences": "EMPLOI", "Récit": f"Récit du dossier {number}. " * 6}
            writer.writerow([row.get(column, "") for column in CASE_COLUMNS])
    return path


class WriteWatcher:
    """Tells when the importer has started writing inside its transaction."""

    def __init__(self, app):
        self.url = app.config["SQLALCHEMY_DATABASE_URI"]
        if is_postgres(app):
            self.engine = create_engine(self.url)
        else:
            self.engine = None
            self.wal = Path(f"{make_url(self.url).database}-wal")
            self.start_size = self.wal.stat().st_size if self.wal.exists() else 0

    def writing(self) -> bool:
        if self.engine is not None:
            # A transaction id is assigned at the first row written.
            with self.engine.connect() as conn:
                return bool(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                    "AND backend_xid IS NOT NULL"), {"name": APP_NAME}).scalar())
        # SQLite (WAL): pages of the open transaction spill into the -wal file.
        return self.wal.exists() and self.wal.stat().st_size > self.start_size

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def counts() -> tuple[int, int, int, int]:
    _db.session.remove()
    return tuple(_db.session.scalar(select(func.count(model.id))) for model in (Case, Person, CaseCode, IndexOutbox))


def test_import_killed_while_writing_leaves_nothing_then_succeeds(app, db, org, tmp_path):
    path = big_csv(tmp_path / "gros-import.csv")
    env = subprocess_env(app)
    env["PGAPPNAME"] = APP_NAME
    watcher = WriteWatcher(app)
    audit_before = verify_chain()
    # Output to a file, not a pipe: a full pipe would stall the importer, not crash it.
    log = (tmp_path / "import.log").open("wb")
    process = subprocess.Popen(FLASK + ["cases", "import", str(path), "--org", org.slug], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while not watcher.writing():
            assert process.poll() is None, (tmp_path / "import.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        log.close()
        watcher.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL

    # Nothing half-written: no case, person, code or index request of the import.
    assert counts() == (0, 0, 0, 0)
    assert verify_chain() == audit_before == []
    if not is_postgres(app):
        database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
        with sqlite3.connect(database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # No lock or leftover stops the same import from succeeding afterwards.
    env.pop("PGAPPNAME")
    again = subprocess.run(FLASK + ["cases", "import", str(path), "--org", org.slug], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr
    cases, persons, codes, _outbox = counts()
    assert (cases, persons, codes) == (ROWS, ROWS, 3 * ROWS)
    assert verify_chain() == []
