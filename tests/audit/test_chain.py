"""`flask audit verify`: passes on an intact journal, fails after any raw edit, insert or delete."""

import json

import pytest
from sqlalchemy import func, select, text

from app.audit import services as audit
from app.audit.models import AuditRecord
from app.extensions import db
from tests import factories


@pytest.fixture
def journal(org, volunteer):
    """A few real records: org and user creation, a case, events."""
    case = factories.case(org, volunteer)
    factories.event(case, actor=volunteer)
    factories.event(case, "CCC", actor=volunteer)
    assert db.session.scalar(select(func.count(AuditRecord.id))) >= 5
    return case


def verify(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def raw(sql, **params):
    db.session.execute(text(sql), params)
    db.session.commit()


def last_seq():
    return db.session.scalar(select(func.max(AuditRecord.seq)))


def test_intact_journal_passes(app, journal):
    code, output = verify(app)
    assert code == 0, output
    assert "Journal intègre" in output


def test_edited_detail_fails(app, journal):
    raw("UPDATE audit_records SET detail = :d WHERE seq = 3", d='{"role":"admin"}')
    code, output = verify(app)
    assert code == 1 and "enregistrement 3" in output and "contenu modifié" in output


@pytest.mark.parametrize("column,value", [("action", "case.view"), ("actor_id", None), ("at", "2020-01-01 00:00:00.000000"),
                                          ("object_id", "999"), ("org_id", None)])
def test_any_edited_column_fails(app, journal, column, value):
    # A record with an actor and an organisation, so that setting either to NULL changes it.
    seq = db.session.scalar(select(func.min(AuditRecord.seq)).where(AuditRecord.actor_id.is_not(None),
                                                                   AuditRecord.org_id.is_not(None)))
    raw(f"UPDATE audit_records SET {column} = :v WHERE seq = :s", v=value, s=seq)  # noqa: S608 (column from the list above)
    assert verify(app)[0] == 1


def test_edit_with_recomputed_hash_still_fails(app, journal):
    """A forger who recomputes the edited row's hash breaks the link to the next row."""
    entry = db.session.scalar(select(AuditRecord).where(AuditRecord.seq == 2))
    entry.detail = '{"forged":true}'
    forged_hash = audit.compute_hash(entry)
    db.session.rollback()
    raw("UPDATE audit_records SET detail = :d, hash = :h WHERE seq = 2", d='{"forged":true}', h=forged_hash)
    code, output = verify(app)
    assert code == 1 and "enregistrement 3" in output and "chaînage rompu" in output


def test_deleted_row_fails(app, journal):
    raw("DELETE FROM audit_records WHERE seq = 3")
    code, output = verify(app)
    assert code == 1 and "séquence rompue" in output


def test_deleted_last_row_fails(app, journal):
    raw("DELETE FROM audit_records WHERE seq = :s", s=last_seq())
    code, output = verify(app)
    assert code == 1 and "fin de journal" in output


def test_inserted_row_fails_even_with_a_valid_hash(app, journal):
    tip = db.session.scalar(select(AuditRecord).where(AuditRecord.seq == last_seq()))
    forged = AuditRecord(seq=tip.seq + 1, at=tip.at, org_id=tip.org_id, actor_id=None, action="case.view",
                         object_type="case", object_id="1", detail="{}", prev_hash=tip.hash)
    forged.hash = audit.compute_hash(forged)
    raw("INSERT INTO audit_records (seq, at, org_id, actor_id, action, object_type, object_id, detail, prev_hash, hash) "
        "VALUES (:seq, :at, :org_id, NULL, :action, :ot, :oid, '{}', :prev, :hash)",
        seq=forged.seq, at=forged.at, org_id=forged.org_id, action=forged.action, ot="case", oid="1",
        prev=forged.prev_hash, hash=forged.hash)
    code, output = verify(app)
    assert code == 1 and "fin de journal" in output


def test_inserted_row_in_the_middle_fails(app, journal):
    raw("UPDATE audit_records SET seq = seq + 1000 WHERE seq > 2")
    raw("INSERT INTO audit_records (seq, at, org_id, actor_id, action, object_type, object_id, detail, prev_hash, hash) "
        "VALUES (3, '2025-01-01 00:00:00.000000', NULL, NULL, 'auth.login', 'user', '1', '{}', :p, :p)", p="0" * 64)
    assert verify(app)[0] == 1


def test_appends_continue_the_chain_after_verification(app, journal, volunteer):
    audit.record("case.view", actor=volunteer, obj=journal)
    db.session.commit()
    assert audit.verify_chain() == []
    assert verify(app)[0] == 0


# --- keyed chain (issue 16) --------------------------------------------------------------------

def test_deleting_a_record_and_recomputing_the_chain_without_the_key_fails(app, journal):
    """The forger can write the database but does not have the key: recomputing every hash and
    the head, as the review did with plain SHA-256, no longer passes."""
    raw("DELETE FROM audit_records WHERE seq = 3")
    previous = audit.GENESIS
    rows = db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    for seq, entry in enumerate(rows, start=1):
        entry.seq, entry.prev_hash = seq, previous
        entry.hash = audit.legacy_hash(entry)  # or an HMAC under any key but the real one
        previous = entry.hash
    db.session.flush()
    db.session.execute(text("UPDATE audit_chain_head SET seq = :s, last_hash = :h"), {"s": len(rows), "h": previous})
    db.session.commit()
    code, output = verify(app)
    assert code == 1 and "flask audit rekey" in output
    # With another key (a guessed SECRET_KEY) it fails as well.
    for entry in rows:
        entry.hash = audit.compute_hash(entry, b"k" * 32)
    db.session.commit()
    code, output = verify(app)
    assert code == 1 and "contenu modifié" in output


def test_the_key_comes_from_outside_the_database(app, journal, tmp_path):
    assert verify(app)[0] == 0
    key_file = tmp_path / "audit.key"
    key_file.write_text("a" * 64)
    app.config["AUDIT_KEY_FILE"] = str(key_file)
    assert verify(app)[0] == 1  # same database, another key: nothing verifies
    app.config["AUDIT_KEY_FILE"] = ""
    assert verify(app)[0] == 0


def test_export_and_check_head(app, journal, tmp_path):
    runner = app.test_cli_runner()
    head_file = tmp_path / "head.json"
    result = runner.invoke(args=["audit", "verify", "--export-head", str(head_file)])
    assert result.exit_code == 0, result.output
    saved = json.loads(head_file.read_text())
    assert saved["seq"] == last_seq() and len(saved["hash"]) == 64
    assert runner.invoke(args=["audit", "verify", "--export-head", "-"]).output.count('"hash"') == 1
    factories.event(journal)  # the journal grows: the exported head is still in it
    assert runner.invoke(args=["audit", "verify", "--check-head", str(head_file)]).exit_code == 0
    # Cut back to before the exported head (head row adjusted too): only the exported head tells.
    cut = saved["seq"] - 1
    raw("DELETE FROM audit_records WHERE seq > :s", s=cut)
    raw("UPDATE audit_chain_head SET seq = :s, last_hash = (SELECT hash FROM audit_records WHERE seq = :s)", s=cut)
    assert verify(app)[0] == 0
    result = runner.invoke(args=["audit", "verify", "--check-head", str(head_file)])
    assert result.exit_code == 1 and "tronqué" in result.output


def test_rekey_migrates_an_unkeyed_journal_once_and_refuses_a_broken_one(app, journal):
    # A journal written before the key: every record sealed with plain SHA-256.
    rows = db.session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    previous = audit.GENESIS
    for entry in rows:
        entry.prev_hash = previous
        entry.hash = audit.legacy_hash(entry)
        previous = entry.hash
    db.session.execute(text("UPDATE audit_chain_head SET last_hash = :h"), {"h": previous})
    db.session.commit()
    runner = app.test_cli_runner()
    code, output = verify(app)
    assert code == 1 and "flask audit rekey" in output
    result = runner.invoke(args=["audit", "rekey"])
    assert result.exit_code == 0 and f"{len(rows)} enregistrement(s)" in result.output
    assert verify(app)[0] == 0
    # A break is never papered over by a re-seal.
    raw("UPDATE audit_records SET detail = :d WHERE seq = 2", d='{"forged":true}')
    result = runner.invoke(args=["audit", "rekey"])
    assert result.exit_code == 1 and "rien n'a été rescellé" in result.output
    assert verify(app)[0] == 1


def test_rekey_after_a_secret_key_rotation(app, journal):
    old = app.config["SECRET_KEY"]
    app.config.update(SECRET_KEY="r" * 64)
    assert verify(app)[0] == 1
    app.config.update(SECRET_KEY_PREVIOUS=old)
    assert app.test_cli_runner().invoke(args=["audit", "rekey"]).exit_code == 0
    app.config.update(SECRET_KEY_PREVIOUS="")
    assert verify(app)[0] == 0
