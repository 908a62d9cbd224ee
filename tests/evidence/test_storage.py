"""The content-addressed store: sharded paths kept inside the root, atomic writes, listing."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from app.evidence.storage import ExhibitStore, StoreError, hash_file


def test_put_shards_by_digest_and_is_idempotent(tmp_path):
    store = ExhibitStore(tmp_path / "exhibits")
    data = b"capture d'ecran"
    sha, size = store.put(data)
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    path = store.path_for(sha)
    assert path == (tmp_path / "exhibits" / sha[:2] / sha[2:4] / sha).resolve()
    assert path.read_bytes() == data
    assert store.put(data) == (sha, size)
    assert list(store.iter_files()) == [(sha, path)]
    assert store.exists(sha)
    # Originals are read-only on disk: nothing in the app writes to them again.
    assert not os.stat(path).st_mode & 0o222


def test_put_from_a_stream(tmp_path):
    store = ExhibitStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    sha, size = store.put(io.BytesIO(data))
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert hash_file(store.path_for(sha)) == (sha, size)
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []  # no temporary file left


def test_put_repairs_a_damaged_copy(tmp_path):
    store = ExhibitStore(tmp_path)
    sha, _ = store.put(b"original")
    path = store.path_for(sha)
    os.chmod(path, 0o644)
    path.write_bytes(b"abime")
    store.put(b"original")
    assert path.read_bytes() == b"original"


@pytest.mark.parametrize("bad", ["../" * 3 + "etc/passwd", "A" * 64, "0" * 63, "0" * 64 + "/..", "", None, "g" * 64])
def test_path_for_refuses_anything_but_a_digest(tmp_path, bad):
    with pytest.raises(StoreError):
        ExhibitStore(tmp_path).path_for(bad)


def test_path_for_refuses_a_shard_that_escapes_the_root(tmp_path):
    root = tmp_path / "exhibits"
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    (root / "ab").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError):
        ExhibitStore(root).path_for("ab" + "0" * 62)


def test_a_crash_before_rename_leaves_no_file_under_a_digest_name(tmp_path, monkeypatch):
    store = ExhibitStore(tmp_path)

    def crash(*args):
        raise OSError("disque plein")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put(b"jamais ecrit")
    with pytest.raises(OSError):
        store.put(io.BytesIO(b"jamais ecrit non plus"))
    monkeypatch.undo()
    assert list(store.iter_files()) == []
    assert list(store.iter_strays()) == []  # the temporary files were removed too


def test_iter_files_skips_temporary_and_foreign_files(tmp_path):
    store = ExhibitStore(tmp_path)
    sha, _ = store.put(b"x")
    (store.path_for(sha).parent / ".incoming-abc").write_bytes(b"partial")
    (tmp_path / "notes.txt").write_text("?")
    assert [s for s, _ in store.iter_files()] == [sha]
    assert sorted(p.name for p in store.iter_strays()) == [".incoming-abc", "notes.txt"]
