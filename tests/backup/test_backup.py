"""`flask backup create|verify|restore`: a restore into an empty DATA_DIR gives the same cases
and byte-identical exhibits; damage is detected; a non-empty target is refused."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.services import verify_chain
from app.backup import services
from app.cases.models import Case
from app.evidence.storage import ExhibitStore, hash_file
from app.extensions import db as _db
from app.search.models import IndexOutbox
from tests import factories
from tests.backup.conftest import is_postgres, snapshot_of_database
from tests.conftest import login


def create(app, path: Path):
    result = app.test_cli_runner().invoke(args=["backup", "create", str(path)])
    assert result.exit_code == 0, result.output
    return result


def exhibit_files(data_dir: Path) -> dict[str, str]:
    return {sha: hash_file(path)[0] for sha, path in ExhibitStore(data_dir / "exhibits").iter_files()}


def test_round_trip_into_an_empty_data_dir(app, db, filled, tmp_path, target_app):
    source_dir = Path(app.config["DATA_DIR"])
    before = snapshot_of_database()
    files_before = exhibit_files(source_dir)
    assert len(files_before) == 5 and len(before["exhibits"]) == 6
    path = tmp_path / "sauvegarde"
    output = create(app, path).output
    assert "6 dossier(s), 5 fichier(s) de pièces" in output and "secret" in output

    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["counts"]["cases"] == 6 and manifest["counts"]["exhibits"] == 6
    assert manifest["backend"] == ("postgresql" if is_postgres(app) else "sqlite")
    saved = set(manifest["files"])
    assert {f"files/exhibits/{s[:2]}/{s[2:4]}/{s}" for s in files_before} <= saved
    assert "files/brief_templates/memoire.docx" in saved
    # Neither the index nor the secret key leave the installation.
    assert not any("index" in p or "secret" in p for p in saved)
    assert not list(path.rglob("secret_key")) and not list(path.rglob("*.seg"))

    verify = app.test_cli_runner().invoke(args=["backup", "verify", str(path)])
    assert verify.exit_code == 0 and "Sauvegarde intègre" in verify.output

    target = target_app()
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert result.exit_code == 0, result.output
        assert "6 dossier(s)" in result.output
        _db.session.remove()
        assert snapshot_of_database() == before
        target_dir = Path(target.config["DATA_DIR"])
        assert exhibit_files(target_dir) == files_before  # byte-identical: same SHA-256 as the name
        assert all(sha == digest for sha, digest in files_before.items())
        assert (target_dir / "brief_templates" / "memoire.docx").read_bytes() == b"PK\x03\x04 modele de memoire"
        assert not (target_dir / "index" / "MAIN_segment.seg").exists()
        # The index is rebuilt: every case is queued for it.
        assert _db.session.scalar(select(func.count(IndexOutbox.case_id.distinct()))) == 6
        assert verify_chain() == []
        # A working app: log in and open a case.
        user = _db.session.scalar(select(factories.User).where(factories.User.role == "volunteer"))
        reference = before["cases"][0][0]
        case_id = _db.session.scalar(select(Case.id).where(Case.reference == reference, Case.org_id == user.org_id))
        client = target.test_client()
        login(client, user)
        page = client.get(f"/cases/{case_id}")
        assert page.status_code == 200 and reference in page.get_data(as_text=True)


def test_restore_puts_exhibits_and_templates_in_the_shared_store(app, db, filled, tmp_path, target_app):
    """Several servers: the exhibits go back to EXHIBIT_STORE (the Word bases beside it), where
    every server reads them — not into the restoring machine's own DATA_DIR."""
    files_before = exhibit_files(Path(app.config["DATA_DIR"]))
    path = tmp_path / "sauvegarde"
    create(app, path)
    store = tmp_path / "partage" / "exhibits"
    store.mkdir(parents=True)
    target = target_app(store=store)
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert result.exit_code == 0, result.output
        restored = {sha: hash_file(p)[0] for sha, p in ExhibitStore(store).iter_files()}
        assert restored == files_before
        assert (store.parent / "brief_templates" / "memoire.docx").read_bytes() == b"PK\x03\x04 modele de memoire"
        data_dir = Path(target.config["DATA_DIR"])
        assert not (data_dir / "exhibits").exists() or not any(p.is_file() for p in (data_dir / "exhibits").rglob("*"))
        # Restoring again into that store is refused: it is not empty any more.
        _db.session.remove()
        again = target.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert again.exit_code != 0 and str(store) in again.output


def test_verify_names_altered_missing_and_extra_files(app, db, filled, tmp_path):
    path = tmp_path / "sauvegarde"
    create(app, path)
    exhibits = sorted((path / "files" / "exhibits").rglob("*"))
    exhibits = [p for p in exhibits if p.is_file()]
    altered, missing = exhibits[0], exhibits[1]
    altered.write_bytes(altered.read_bytes() + b"x")
    missing.unlink()
    (path / "files" / "intrus.txt").write_text("ajouté")
    result = app.test_cli_runner().invoke(args=["backup", "verify", str(path)])
    assert result.exit_code == 1
    assert f"{altered.relative_to(path).as_posix()} : contenu altéré" in result.output
    assert f"{missing.relative_to(path).as_posix()} : fichier absent" in result.output
    assert "files/intrus.txt : fichier non listé" in result.output


def test_verify_detects_a_changed_database(app, db, filled, tmp_path):
    path = tmp_path / "sauvegarde"
    create(app, path)
    manifest = json.loads((path / "manifest.json").read_text())
    database = path / manifest["database_file"]
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0xFF
    database.write_bytes(bytes(data))
    result = app.test_cli_runner().invoke(args=["backup", "verify", str(path)])
    assert result.exit_code == 1 and f"{manifest['database_file']} : contenu altéré" in result.output


def test_restore_refuses_a_non_empty_target(app, db, filled, tmp_path):
    path = tmp_path / "sauvegarde"
    create(app, path)
    before = snapshot_of_database()
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(path)])
    assert result.exit_code == 1
    assert "Restauration refusée : la cible n'est pas vide" in result.output
    _db.session.remove()
    assert snapshot_of_database() == before


def test_restore_refuses_when_only_exhibits_are_present(app, db, filled, tmp_path, target_app):
    path = tmp_path / "sauvegarde"
    create(app, path)
    target = target_app(drop_source_schema=False) if not is_postgres(app) else None
    if target is None:
        pytest.skip("on PostgreSQL the shared test database is never empty here")
    stray = Path(target.config["EXHIBIT_DIR"]) / "ab" / "cd"
    stray.mkdir(parents=True)
    (stray / ("abcd" + "0" * 60)).write_bytes(b"autre")
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(path)])
    assert result.exit_code == 1 and "contient des fichiers" in result.output


def test_restore_refuses_a_damaged_backup(app, db, filled, tmp_path, target_app):
    path = tmp_path / "sauvegarde"
    create(app, path)
    manifest = json.loads((path / "manifest.json").read_text())
    first = next(p for p in manifest["files"] if p.startswith("files/exhibits/"))
    os.chmod(path / first, 0o644)
    (path / first).write_bytes(b"abime")
    target = target_app()
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert result.exit_code == 1 and "Sauvegarde endommagée, restauration refusée" in result.output
        assert not any(Path(target.config["EXHIBIT_DIR"]).rglob("*"))


def test_create_refuses_a_non_empty_destination_and_the_data_dir(app, db, filled, tmp_path):
    occupied = tmp_path / "occupe"
    occupied.mkdir()
    (occupied / "autre.txt").write_text("x")
    result = app.test_cli_runner().invoke(args=["backup", "create", str(occupied)])
    assert result.exit_code == 1 and "n'est pas vide" in result.output
    inside = Path(app.config["DATA_DIR"]) / "sauvegarde"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(inside)])
    assert result.exit_code == 1 and "dossier de données lui-même" in result.output
    assert not inside.exists()


def test_not_a_backup(app, tmp_path):
    (tmp_path / "vide").mkdir()
    result = app.test_cli_runner().invoke(args=["backup", "verify", str(tmp_path / "vide")])
    assert result.exit_code == 1 and "n'est pas une sauvegarde Constat" in result.output


def test_a_missing_exhibit_file_is_reported_not_hidden(app, db, filled, tmp_path):
    sha = next(iter(exhibit_files(Path(app.config["DATA_DIR"]))))
    path_of = ExhibitStore(app.config["EXHIBIT_DIR"]).path_for(sha)
    path_of.unlink()
    path = tmp_path / "sauvegarde"
    result = create(app, path)
    assert "1 pièce(s) référencée(s) absente(s)" in result.output
    _manifest, problems = services.verify_backup(path)
    assert any(sha[:16] in p for p in problems)
    shutil.rmtree(path)


def test_restore_refuses_a_planted_file_outside_exhibits_and_templates(app, db, filled, tmp_path, target_app):
    """A tampered manifest must not plant DATA_DIR/secret_key (forged sessions) or index files."""
    import hashlib

    path = tmp_path / "sauvegarde"
    create(app, path)
    planted = b"cle-choisie-par-l-attaquant"
    (path / "files" / "secret_key").write_bytes(planted)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["files/secret_key"] = {"sha256": hashlib.sha256(planted).hexdigest(), "size": len(planted)}
    (path / "manifest.json").write_text(json.dumps(manifest))
    target = target_app()
    with target.app_context():
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert result.exit_code == 1 and "non authentifié" in result.output  # no key: the signature fails
        # Even re-signed by someone holding the key, the planted file is refused.
        (path / "manifest.sig").write_text(services.sign_manifest(target.config, (path / "manifest.json").read_bytes()))
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert result.exit_code == 1 and "fichier inattendu" in result.output
        key = Path(target.config["DATA_DIR"], "secret_key")
        assert not key.exists() or key.read_bytes() != planted


def test_verify_refuses_a_manifest_it_cannot_authenticate(app, db, filled, tmp_path):
    """Issue 16: altering a file and rewriting the manifest to match no longer passes, nor does a
    backup without signature or made under another SECRET_KEY."""
    path = tmp_path / "sauvegarde"
    create(app, path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", "verify", str(path)]).exit_code == 0
    assert (path / "manifest.sig").read_text().startswith("hmac-sha256:")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["counts"]["cases"] += 1  # any edit, even one whose files all still match
    (path / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(args=["backup", "verify", str(path)])
    assert result.exit_code == 1 and "non authentifié" in result.output
    (path / "manifest.sig").unlink()
    result = runner.invoke(args=["backup", "verify", str(path)])
    assert result.exit_code == 1 and "manifest.sig absent" in result.output
    # Re-signed with the real key, the untouched backup verifies; under another key it does not.
    manifest["counts"]["cases"] -= 1
    (path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True))
    (path / "manifest.sig").write_text(services.sign_manifest(app.config, (path / "manifest.json").read_bytes()))
    assert runner.invoke(args=["backup", "verify", str(path)]).exit_code == 0
    old = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "z" * 64
    assert runner.invoke(args=["backup", "verify", str(path)]).exit_code == 1
    app.config["SECRET_KEY_PREVIOUS"] = old  # a rotation in progress: old backups still verify
    assert runner.invoke(args=["backup", "verify", str(path)]).exit_code == 0
