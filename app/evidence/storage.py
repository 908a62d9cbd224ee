"""Content-addressed exhibit store: bytes on disk under their SHA-256, written atomically."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flask import current_app

SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024
# Temporary files start with a dot so that iter_files() and verify never mistake them for exhibits.
TEMP_PREFIX = ".incoming-"


class StoreError(Exception):
    """A path outside the store or a malformed digest: a bug or an attack, never user input."""


class ExhibitStore:
    """Files at root/ab/cd/<sha256>; originals are written once and made read-only."""

    def __init__(self, root: Path | str, *, must_exist: bool = False):
        self.root = Path(root).resolve()
        # A shared store (EXHIBIT_STORE) is never created here: an unmounted share would
        # otherwise fill a local folder that the other servers cannot see.
        self.must_exist = must_exist

    def _check_root(self) -> None:
        if self.must_exist and not self.root.is_dir():
            raise StoreError("dépôt partagé des pièces introuvable (EXHIBIT_STORE) : vérifiez le montage")

    def path_for(self, sha256: str) -> Path:
        """Where the bytes of this digest live; refuses anything that is not a lowercase digest
        or that would resolve outside the store (symlinked shard folders included)."""
        if not isinstance(sha256, str) or not SHA256.match(sha256):
            raise StoreError("empreinte SHA-256 invalide")
        path = (self.root / sha256[:2] / sha256[2:4] / sha256).resolve()
        if not path.is_relative_to(self.root):
            raise StoreError("chemin hors du dépôt des pièces")
        return path

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, data: bytes | BinaryIO) -> tuple[str, int]:
        """Store bytes (or a binary stream) and return (sha256, size).

        The bytes go to a temporary file in the destination folder, are fsynced, then renamed
        over the final name and the folder fsynced: a crash leaves either no file or the whole
        file, never a partial one under a digest name. Same bytes twice: same file.
        """
        self._check_root()
        if isinstance(data, bytes | bytearray | memoryview):
            sha256 = hashlib.sha256(data).hexdigest()
            target = self.path_for(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._write_into(target, lambda fh: fh.write(data))
            return sha256, len(data)
        # A stream: hash while copying into a temporary file at the root (same file system),
        # then rename it into its shard once the digest is known.
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.root)
        try:
            with os.fdopen(fd, "wb") as fh:
                while chunk := data.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            sha256 = digest.hexdigest()
            target = self.path_for(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(temp_name, 0o444)
            os.replace(temp_name, target)
            _fsync_dir(target.parent)
        except BaseException:
            _unlink_quietly(temp_name)
            raise
        return sha256, size

    def _write_into(self, target: Path, write) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(temp_name, 0o444)
            # Replacing an existing file with identical bytes also repairs a damaged copy.
            os.replace(temp_name, target)
            _fsync_dir(target.parent)
        except BaseException:
            _unlink_quietly(temp_name)
            raise

    def iter_files(self) -> Iterator[tuple[str, Path]]:
        """Every stored file as (sha256, path); temporary and foreign files are skipped."""
        if not self.root.is_dir():
            return
        for first in sorted(os.scandir(self.root), key=lambda e: e.name):
            if not (first.is_dir(follow_symlinks=False) and len(first.name) == 2):
                continue
            for second in sorted(os.scandir(first.path), key=lambda e: e.name):
                if not (second.is_dir(follow_symlinks=False) and len(second.name) == 2):
                    continue
                for entry in os.scandir(second.path):
                    name = entry.name
                    if (entry.is_file(follow_symlinks=False) and SHA256.match(name)
                            and name[:2] == first.name and name[2:4] == second.name):
                        yield name, Path(entry.path)

    def iter_strays(self) -> Iterator[Path]:
        """Files that are not exhibits: leftovers of interrupted writes, misplaced files."""
        if not self.root.is_dir():
            return
        for dirpath, _dirnames, filenames in os.walk(self.root):
            for name in filenames:
                path = Path(dirpath) / name
                rel = path.relative_to(self.root).parts
                if not (len(rel) == 3 and SHA256.match(name) and rel[0] == name[:2] and rel[1] == name[2:4]):
                    yield path

    def remove(self, sha256: str) -> None:
        """Delete one file (retention, orphan purge); callers check that no row points to it."""
        path = self.path_for(sha256)
        _unlink_quietly(path)
        _fsync_dir(path.parent)


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256, size) of a file, read in large blocks."""
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
        size = fh.tell()
    return digest.hexdigest(), size


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def store() -> ExhibitStore:
    """The store of the current app (EXHIBIT_DIR)."""
    return ExhibitStore(current_app.config["EXHIBIT_DIR"], must_exist=bool(current_app.config.get("EXHIBIT_STORE")))
