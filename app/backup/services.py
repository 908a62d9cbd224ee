"""Backups: a consistent snapshot of the database and the stored files, with a SHA-256 manifest.

Layout of a backup (a directory):

    manifest.json           format, date, backend, counts, schema revision, every file's SHA-256
    manifest.sig            HMAC-SHA256 of manifest.json under a key derived from SECRET_KEY: a
                            manifest rewritten to match altered files is refused by verify/restore
    database.sqlite3        SQLite: a copy made with the online backup API
    database.pgdump         PostgreSQL: pg_dump --format=custom
    files/exhibits/ab/cd/<sha256>   the exhibits, as stored
    files/brief_templates/…         the association's Word templates

Not saved: the search index (rebuilt from the database) and the secret key (it derives the
pseudonymisation key, which never leaves the installation: keep SECRET_KEY apart).

Order matters for consistency while the app runs: the database snapshot is taken first, then
the files are copied. An exhibit's file is written before its row is committed, so every
exhibit in the snapshot already has its file on disk when the copy starts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess  # noqa: S404  (pg_dump / pg_restore, arguments built from the configured URL)
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.core.clock import utcnow
from app.evidence.storage import SHA256, ExhibitStore, hash_file

FORMAT = "constat-backup/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_PREFIX = "hmac-sha256:"
SQLITE_NAME = "database.sqlite3"
PGDUMP_NAME = "database.pgdump"
# Folders of DATA_DIR that are saved; everything else there (index, secret key) is not.
SAVED_DIRS = ("exhibits", "brief_templates")
# The only files a restore may write: exhibits under their sharded SHA-256, and Word templates.
RESTORABLE = re.compile(r"files/exhibits/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}|files/brief_templates/[a-z0-9-]{1,64}\.docx")


class BackupError(Exception):
    """A refused or failed backup operation, with a French message."""


@dataclass
class Manifest:
    created_at: str
    backend: str
    database_file: str
    schema_revision: str | None
    counts: dict[str, int]
    files: dict[str, dict] = field(default_factory=dict)  # relative path -> {sha256, size}
    missing_exhibits: list[str] = field(default_factory=list)
    format: str = FORMAT
    not_saved: tuple[str, ...] = ("index (reconstruit depuis la base)",
                                  "secret_key (à conserver à part : clé de pseudonymisation)")

    def to_json(self) -> str:
        data = dict(self.__dict__)
        data["not_saved"] = list(self.not_saved)
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            raise BackupError(f"{path} n'est pas une sauvegarde Constat : {MANIFEST} absent.") from None
        except (ValueError, UnicodeDecodeError):
            raise BackupError(f"{MANIFEST} illisible : sauvegarde endommagée.") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError(f"Format de sauvegarde inconnu (attendu {FORMAT}).")
        data["not_saved"] = tuple(data.get("not_saved", ()))
        try:
            return cls(**data)
        except TypeError:
            raise BackupError(f"{MANIFEST} incomplet : sauvegarde endommagée.") from None


def _backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"Base de données non prise en charge par la sauvegarde : {name}.")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("Base SQLite en mémoire : rien à sauvegarder.")
    return Path(database).resolve()


def _pg_command(url: str, program: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump / pg_restore; the password goes in the environment,
    never on the command line (where `ps` would show it)."""
    parsed = make_url(url)
    args = [program, "--no-owner", "--no-privileges"]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return args, env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(args[0]) is None:
        raise BackupError(f"{args[0]} est introuvable : installez le client PostgreSQL (paquet postgresql-client).")
    done = subprocess.run(args, env=env, capture_output=True, text=True, errors="replace", check=False)  # noqa: S603
    if done.returncode != 0:
        # pg_dump's own message names the problem (version, connection); no personal data in it.
        raise BackupError(f"{what} a échoué : {done.stderr.strip()[:500]}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


# --- signature -----------------------------------------------------------------------------

def _manifest_keys(config) -> list[bytes]:
    """The current key first, then those of SECRET_KEY_PREVIOUS (backups made before a rotation)."""
    from app.core.security import derived_key

    secrets_ = [config["SECRET_KEY"]] + [p.strip() for p in (config.get("SECRET_KEY_PREVIOUS") or "").split(",")
                                         if p.strip()]
    return [derived_key("backup-manifest/v1", secret) for secret in secrets_]


def sign_manifest(config, manifest_bytes: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(_manifest_keys(config)[0], manifest_bytes, hashlib.sha256).hexdigest()


def check_signature(config, path: Path) -> None:
    """Raise BackupError unless manifest.sig authenticates manifest.json with a known key."""
    try:
        manifest_bytes = (path / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise BackupError(f"{path} n'est pas une sauvegarde Constat : {MANIFEST} absent.") from None
    try:
        signature = (path / SIGNATURE).read_text().strip()
    except (FileNotFoundError, UnicodeDecodeError):
        raise BackupError(f"Manifeste non authentifié : {SIGNATURE} absent ou illisible. Une sauvegarde faite "
                          "avant la signature des manifestes, ou modifiée, est refusée.") from None
    for key in _manifest_keys(config):
        expected = SIGNATURE_PREFIX + hmac.new(key, manifest_bytes, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            return
    raise BackupError("Manifeste non authentifié : sa signature ne correspond pas (manifeste modifié, ou "
                      "sauvegarde faite avec une autre clé secrète : remettez SECRET_KEY d'origine).")


# --- create --------------------------------------------------------------------------------

_COUNT_SQL = {
    "cases": "SELECT count(*) FROM cases",
    "exhibits": "SELECT count(*) FROM exhibits",
    "events": "SELECT count(*) FROM events",
    "organisations": "SELECT count(*) FROM organisations",
    "users": "SELECT count(*) FROM users",
    "audit_records": "SELECT count(*) FROM audit_records",
}
_EXHIBITS_SQL = "SELECT DISTINCT sha256 FROM exhibits"


def _snapshot_facts(rows) -> tuple[dict[str, int], set[str], str | None]:
    """Counts, exhibit digests and schema revision as seen by one consistent connection;
    `rows(sql)` runs a query there and returns its rows."""
    counts = {name: int(rows(sql)[0][0] or 0) for name, sql in _COUNT_SQL.items()}
    digests = {row[0] for row in rows(_EXHIBITS_SQL)}
    try:
        found = rows("SELECT version_num FROM alembic_version")
        revision = found[0][0] if found else None
    except Exception:  # a database made by create_all (tests) has no alembic table
        revision = None
    return counts, digests, revision


def _snapshot_sqlite(url: str, target: Path) -> tuple[dict[str, int], set[str], str | None]:
    source_path = _sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"Base SQLite introuvable : {source_path}.")
    source = sqlite3.connect(source_path, timeout=60)
    destination = sqlite3.connect(target)
    try:
        # One step (pages=-1): the copy is a single read transaction, so writers in other
        # processes keep going (WAL) and the copy is the database as of one instant.
        source.backup(destination)
        destination.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
        problem = destination.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"La copie de la base est incohérente : {problem}")
        facts = _snapshot_facts(lambda sql: destination.execute(sql).fetchall())
    finally:
        destination.close()
        source.close()
    _fsync(target)
    return facts


def _in_savepoint(conn, sql: str) -> list:
    # A failed query (no alembic table) must not abort the transaction holding the snapshot.
    with conn.begin_nested():
        return conn.execute(text(sql)).all()


def _snapshot_postgres(url: str, target: Path) -> tuple[dict[str, int], set[str], str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            # Count and list in a repeatable-read transaction, and have pg_dump read the very
            # same snapshot: the manifest describes exactly what the dump holds.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
                facts = _snapshot_facts(lambda sql: _in_savepoint(conn, sql))
                args, env = _pg_command(url, "pg_dump")
                database = make_url(url).database or ""
                _run(args + ["--format=custom", f"--snapshot={snapshot}", "--file", str(target), database],
                     env, "pg_dump")
    finally:
        engine.dispose()
    _fsync(target)
    return facts


def _copy_tree(source_root: Path, target_root: Path, relative_prefix: str, manifest: Manifest,
               only_exhibits: bool) -> None:
    if not source_root.is_dir():
        return
    if only_exhibits:
        exhibit_store = ExhibitStore(source_root)
        items = ((p.relative_to(exhibit_store.root), p) for _sha, p in exhibit_store.iter_files())
    else:
        items = ((p.relative_to(source_root), p) for p in sorted(source_root.rglob("*"))
                 if p.is_file() and not p.is_symlink() and not p.name.startswith("."))
    for relative, path in items:
        destination = target_root / relative_prefix / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, destination)
        except FileNotFoundError:  # deleted meanwhile (an erasure): not in the snapshot's needs
            continue
        digest, size = hash_file(destination)
        if only_exhibits and digest != path.name:
            # Never save a damaged exhibit as if it were good: `evidence verify` will name it.
            destination.unlink()
            continue
        manifest.files[f"{relative_prefix}/{relative.as_posix()}"] = {"sha256": digest, "size": size}


def create_backup(config, destination: Path, *, now: datetime | None = None) -> Manifest:
    """Write a backup of the app described by `config` (a Flask config mapping) into
    `destination`, which must not exist yet. Returns the manifest."""
    destination = Path(destination).resolve()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"{destination} existe déjà et n'est pas vide : choisissez un nouveau dossier.")
    data_dir = Path(config["DATA_DIR"]).resolve()
    if destination.is_relative_to(data_dir):
        raise BackupError("La sauvegarde ne peut pas être écrite dans le dossier de données lui-même.")
    url = config["SQLALCHEMY_DATABASE_URI"]
    backend = _backend(url)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its final name, renamed at the end: an interrupted backup never looks complete.
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    try:
        database_file = SQLITE_NAME if backend == "sqlite" else PGDUMP_NAME
        if backend == "sqlite":
            counts, digests, revision = _snapshot_sqlite(url, work / database_file)
        else:
            counts, digests, revision = _snapshot_postgres(url, work / database_file)
        manifest = Manifest(created_at=(now or utcnow()).isoformat(timespec="seconds"), backend=backend,
                            database_file=database_file, schema_revision=revision, counts=counts)
        digest, size = hash_file(work / database_file)
        manifest.files[database_file] = {"sha256": digest, "size": size}
        _copy_tree(Path(config["EXHIBIT_DIR"]), work, "files/exhibits", manifest, only_exhibits=True)
        _copy_tree(Path(config["TEMPLATE_DIR"]), work, "files/brief_templates", manifest, only_exhibits=False)
        saved = {Path(p).name for p in manifest.files if p.startswith("files/exhibits/")}
        manifest.missing_exhibits = sorted(digests - saved)
        (work / MANIFEST).write_text(manifest.to_json())
        _fsync(work / MANIFEST)
        (work / SIGNATURE).write_text(sign_manifest(config, (work / MANIFEST).read_bytes()) + "\n")
        _fsync(work / SIGNATURE)
        if destination.exists():
            destination.rmdir()
        os.replace(work, destination)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


# --- verify --------------------------------------------------------------------------------

def verify_backup(path: Path, config=None) -> tuple[Manifest, list[str]]:
    """Authenticate the manifest (BackupError if it cannot be), then re-hash every file of the
    backup against it. Returns (manifest, problems in French). `config`: the app's (SECRET_KEY)."""
    if config is None:
        from flask import current_app

        config = current_app.config
    path = Path(path).resolve()
    check_signature(config, path)
    manifest = Manifest.load(path)
    problems = []
    listed = set(manifest.files)
    if manifest.database_file not in listed:
        problems.append(f"la base ({manifest.database_file}) n'est pas listée dans le manifeste")
    for relative, expected in sorted(manifest.files.items()):
        file = (path / relative).resolve()
        if not file.is_relative_to(path):
            problems.append(f"{relative} : chemin hors de la sauvegarde")
            continue
        if not file.is_file():
            problems.append(f"{relative} : fichier absent")
            continue
        digest, size = hash_file(file)
        if digest != expected.get("sha256") or size != expected.get("size"):
            problems.append(f"{relative} : contenu altéré (empreinte SHA-256 différente)")
        elif relative.startswith("files/exhibits/") and not (SHA256.match(file.name) and digest == file.name):
            problems.append(f"{relative} : le nom ne correspond pas à l'empreinte de la pièce")
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path).as_posix()
        if file.is_file() and relative not in (MANIFEST, SIGNATURE) and relative not in listed:
            problems.append(f"{relative} : fichier non listé dans le manifeste")
    for sha256 in manifest.missing_exhibits:
        problems.append(f"pièce {sha256[:16]}… référencée par la base mais absente du stockage lors de la sauvegarde")
    if manifest.backend == "sqlite" and (path / manifest.database_file).is_file():
        # immutable: read without creating -wal/-shm files beside the backup.
        conn = sqlite3.connect(f"file:{path / manifest.database_file}?mode=ro&immutable=1", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            result, cases = str(exc), None
        finally:
            conn.close()
        if result != "ok":
            problems.append(f"base SQLite incohérente : {result}")
        elif cases != manifest.counts.get("cases"):
            problems.append("le nombre de dossiers de la base ne correspond pas au manifeste")
    if manifest.backend == "postgresql" and (path / manifest.database_file).is_file() and shutil.which("pg_restore"):
        listing = subprocess.run(["pg_restore", "--list", str(path / manifest.database_file)],  # noqa: S603, S607
                                 capture_output=True, text=True, errors="replace", check=False)
        if listing.returncode != 0 or "TABLE DATA public cases" not in listing.stdout:
            problems.append("dump PostgreSQL illisible par pg_restore")
    return manifest, problems


# --- restore -------------------------------------------------------------------------------

def _target_problems(config) -> list[str]:
    """Why the target installation is not empty (restoring never overwrites anything)."""
    reasons = []
    for folder in _restore_dirs(config).values():
        if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
            reasons.append(f"le dossier {folder} contient des fichiers")
    url = config["SQLALCHEMY_DATABASE_URI"]
    if _backend(url) == "sqlite":
        db_path = _sqlite_path(url)
        if db_path.exists() and db_path.stat().st_size > 0 and _has_tables(url):
            reasons.append(f"la base {db_path} contient déjà des tables")
    elif _has_tables(url):
        reasons.append("la base PostgreSQL contient déjà des tables")
    return reasons


def _restore_dirs(config) -> dict[str, Path]:
    """Where each saved folder goes back: the configured store and template folders (a shared
    EXHIBIT_STORE with several servers), not necessarily DATA_DIR."""
    data_dir = Path(config["DATA_DIR"])
    return {"exhibits": Path(config.get("EXHIBIT_DIR") or data_dir / "exhibits"),
            "brief_templates": Path(config.get("TEMPLATE_DIR") or data_dir / "brief_templates")}


def _has_tables(url: str) -> bool:
    engine = create_engine(url)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@dataclass
class RestoreReport:
    manifest: Manifest
    files: int
    cases: int


def restore_backup(config, path: Path) -> RestoreReport:
    """Restore a verified backup into the empty installation described by `config`.
    Raises BackupError (French) when the backup is damaged or the target is not empty."""
    path = Path(path).resolve()
    manifest, problems = verify_backup(path, config)
    if problems:
        raise BackupError("Sauvegarde endommagée, restauration refusée : " + " ; ".join(problems[:5]))
    url = config["SQLALCHEMY_DATABASE_URI"]
    backend = _backend(url)
    if backend != manifest.backend:
        raise BackupError(f"Cette sauvegarde vient d'une base {manifest.backend} ; la cible est {backend}.")
    reasons = _target_problems(config)
    if reasons:
        raise BackupError("Restauration refusée : la cible n'est pas vide (" + " ; ".join(reasons)
                          + "). Restaurez dans un DATA_DIR vide et une base vide.")
    folders = _restore_dirs(config)
    copied = 0
    # Files first, then the database: a restore interrupted before the database is in place
    # leaves a target that is refused as non-empty rather than a database missing its files.
    for relative, expected in sorted(manifest.files.items()):
        if not relative.startswith("files/"):
            continue
        if not RESTORABLE.fullmatch(relative):
            # A tampered manifest must not plant e.g. secret_key or a pickled index file.
            raise BackupError(f"{relative} : fichier inattendu dans la sauvegarde, restauration refusée.")
        if relative.startswith("files/exhibits/") and Path(relative).name != expected["sha256"]:
            raise BackupError(f"{relative} : nom de pièce différent de son empreinte.")
        kind, rest = relative.removeprefix("files/").split("/", 1)
        root = folders[kind].resolve()
        target = (root / rest).resolve()
        if not target.is_relative_to(root):
            raise BackupError(f"{relative} : chemin hors du dossier de données.")
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".restore-{target.name}")
        shutil.copyfile(path / relative, temp)
        if hash_file(temp)[0] != expected["sha256"]:
            temp.unlink()
            raise BackupError(f"{relative} : copie altérée pendant la restauration.")
        _fsync(temp)
        if relative.startswith("files/exhibits/"):
            os.chmod(temp, 0o444)  # exhibits are read-only originals, as the store writes them
        os.replace(temp, target)
        copied += 1
    source = path / manifest.database_file
    if backend == "sqlite":
        db_path = _sqlite_path(url)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):  # leftovers of an empty database opened before
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        temp = db_path.with_name(f".restore-{db_path.name}")
        shutil.copyfile(source, temp)
        _fsync(temp)
        os.replace(temp, db_path)
    else:
        args, env = _pg_command(url, "pg_restore")
        database = make_url(url).database or ""
        _run(args + ["--single-transaction", "--exit-on-error", "--dbname", database, str(source)],
             env, "pg_restore")
    return RestoreReport(manifest, copied, manifest.counts.get("cases", 0))
