"""A backup taken while another real process writes restores into an empty directory with the
same number of cases as the snapshot and identical exhibit hashes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.audit.services import verify_chain
from app.cases.models import Case
from app.evidence.models import Exhibit
from app.evidence.storage import ExhibitStore, hash_file
from app.extensions import db as _db
from tests.backup.conftest import FLASK, ROOT, subprocess_env

pytestmark = pytest.mark.slow


class Writer:
    """`python -m tests.backup.writer`, followed through its stdout (one line per commit)."""

    def __init__(self, app, slug: str, tmp_path: Path):
        self.stop_file = tmp_path / "stop-writer"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.backup.writer", slug, str(self.stop_file)],
            cwd=ROOT, env=subprocess_env(app), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.commits: list[tuple[int, float]] = []

    @property
    def committed(self) -> int:
        return self.commits[-1][0] if self.commits else 0

    def _read(self, line: str) -> None:
        number, at = line.split()
        self.commits.append((int(number), float(at)))

    def wait_for(self, count: int, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self.committed < count:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"writer stopped: {self.process.stderr.read()[-2000:]}")
            self._read(line)
            assert time.monotonic() < deadline, "writer too slow"
        return self.committed

    def stop(self) -> int:
        self.stop_file.touch()
        out, err = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, err[-2000:]
        for line in out.splitlines():
            self._read(line)
        return self.committed


def test_backup_while_another_process_writes(app, db, org, tmp_path, target_app):
    writer = Writer(app, org.slug, tmp_path)
    try:
        before = writer.wait_for(15)
        path = tmp_path / "sauvegarde"
        started = time.time()
        backup = subprocess.run(FLASK + ["backup", "create", str(path)], cwd=ROOT, env=subprocess_env(app),
                                capture_output=True, text=True, timeout=300, check=False)
        finished = time.time()
        assert backup.returncode == 0, backup.stderr
    finally:
        total = writer.stop()
    # The writer committed while the backup process ran, and after it.
    during = [n for n, at in writer.commits if started < at < finished]
    assert during and total > max(during)
    manifest = json.loads((path / "manifest.json").read_text())
    in_backup = manifest["counts"]["cases"]
    assert before <= in_backup < total
    assert manifest["missing_exhibits"] == []
    _db.session.remove()
    source = {r: n for r, n in _db.session.execute(
        select(Case.reference, Case.narrative).where(Case.org_id == org.id)).all()}
    assert len(source) == total

    verify = subprocess.run(FLASK + ["backup", "verify", str(path)], cwd=ROOT, env=subprocess_env(app),
                            capture_output=True, text=True, timeout=300, check=False)
    assert verify.returncode == 0, verify.stderr

    target = target_app()
    with target.app_context():
        restore = subprocess.run(FLASK + ["backup", "restore", str(path)], cwd=ROOT, env=subprocess_env(target),
                                 capture_output=True, text=True, timeout=300, check=False)
        assert restore.returncode == 0, restore.stderr + restore.stdout
        _db.session.remove()
        restored = dict(_db.session.execute(select(Case.reference, Case.narrative)).all())
        # The same number of cases as the snapshot, each one as it was in the source.
        assert len(restored) == in_backup
        assert all(source[ref] == narrative for ref, narrative in restored.items())
        # A case is whole or absent: never a case without its event or exhibit.
        orphans = _db.session.execute(text(
            "SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.case_id = c.id) "
            "OR NOT EXISTS (SELECT 1 FROM exhibits x WHERE x.case_id = c.id)")).scalar()
        assert orphans == 0
        digests = set(_db.session.scalars(select(Exhibit.sha256)))
        assert _db.session.scalar(select(func.count(Exhibit.id))) == in_backup
        store = ExhibitStore(target.config["EXHIBIT_DIR"])
        source_store = ExhibitStore(app.config["EXHIBIT_DIR"])
        for sha in digests:
            assert hash_file(store.path_for(sha))[0] == sha == hash_file(source_store.path_for(sha))[0]
        assert verify_chain() == []
