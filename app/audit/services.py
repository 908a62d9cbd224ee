"""Append to and verify the hash-chained audit journal.

Records name objects (type and id) and carry non-personal detail (filters, counts,
file hashes); callers never pass names, numbers or free text typed about a person.

Each record's hash is an HMAC-SHA256 under a key that is not in the database (AUDIT_KEY_FILE, or
derived from SECRET_KEY): someone who can write the database can delete a record, but cannot
recompute the chain after it. Journals written before the key (plain SHA-256) are re-sealed once
by `flask audit rekey`, which first checks them the old way; `audit verify` reports such records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from app.audit.models import AuditChainHead, AuditRecord
from app.core.clock import utcnow
from app.extensions import db

GENESIS = "0" * 64


def _canonical(detail: dict) -> str:
    return json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def chain_key() -> bytes:
    """The chain's key: the content of AUDIT_KEY_FILE if set, else derived from SECRET_KEY."""
    from flask import current_app

    from app.core.security import derived_key

    path = current_app.config.get("AUDIT_KEY_FILE") or ""
    if path:
        key = Path(path).read_bytes().strip()
        if len(key) < 32:
            raise RuntimeError("AUDIT_KEY_FILE doit contenir au moins 32 octets.")
        return key
    return derived_key("audit-chain/v1")


def _previous_keys() -> list[bytes]:
    """Keys of a rotation in progress (SECRET_KEY_PREVIOUS): accepted by `audit rekey` only."""
    from flask import current_app

    from app.core.security import derived_key

    previous = current_app.config.get("SECRET_KEY_PREVIOUS") or ""
    return [derived_key("audit-chain/v1", p.strip()) for p in previous.split(",") if p.strip()]


def _payload(record: AuditRecord) -> bytes:
    return _canonical({
        "seq": record.seq,
        "at": record.at.isoformat(timespec="microseconds"),
        "org_id": record.org_id,
        "actor_id": record.actor_id,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "detail": record.detail,
        "prev_hash": record.prev_hash,
    }).encode()


def compute_hash(record: AuditRecord, key: bytes | None = None) -> str:
    return hmac.new(key if key is not None else chain_key(), _payload(record), hashlib.sha256).hexdigest()


def legacy_hash(record: AuditRecord) -> str:
    """The unkeyed SHA-256 of journals written before the key (read by `audit rekey` only)."""
    return hashlib.sha256(_payload(record)).hexdigest()


def _advance_head(session) -> tuple[int, str]:
    """Take the next sequence number; the UPDATE locks the head row until commit."""
    row = session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.last_hash)
    ).first()
    if row is None:
        session.add(AuditChainHead(id=1, seq=1, last_hash=GENESIS))
        session.flush()
        return 1, GENESIS
    return row.seq, row.last_hash


def record(action: str, *, actor=None, org_id: int | None = None, obj=None,
           object_type: str = "", object_id: str | int = "", **detail) -> AuditRecord:
    """Append one record to the journal in the current transaction and return it."""
    session = db.session
    if obj is not None:
        object_type = object_type or obj.__tablename__.rstrip("s")
        object_id = object_id or obj.id
        org_id = org_id if org_id is not None else getattr(obj, "org_id", None)
    if actor is not None and org_id is None:
        org_id = actor.org_id
    seq, prev_hash = _advance_head(session)
    entry = AuditRecord(
        seq=seq, at=utcnow(), org_id=org_id, actor_id=actor.id if actor is not None else None,
        action=action, object_type=object_type, object_id=str(object_id or ""),
        detail=_canonical(detail), prev_hash=prev_hash,
    )
    entry.hash = compute_hash(entry)
    session.add(entry)
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=entry.hash))
    session.flush()
    return entry


@dataclass
class ChainProblem:
    seq: int | None
    reason: str


UNKEYED = "scellé sans la clé actuelle (journal d'avant la clé, ou clé changée) : lancez « flask audit rekey »"


def verify_chain(session=None, *, accept_old: bool = False) -> list[ChainProblem]:
    """Walk the chain in order; return every break (edited, inserted, deleted or truncated).
    `accept_old`: records sealed the old way (plain SHA-256) or with a previous key pass (rekey)."""
    session = session or db.session
    key = chain_key()
    old_keys = _previous_keys()
    problems: list[ChainProblem] = []
    expected_prev, expected_seq = GENESIS, 1
    last = None
    for entry in session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).yield_per(1000):
        if entry.seq != expected_seq:
            problems.append(ChainProblem(entry.seq, f"séquence rompue : attendu {expected_seq}"))
        if entry.prev_hash != expected_prev:
            problems.append(ChainProblem(entry.seq, "chaînage rompu (enregistrement supprimé ou inséré)"))
        if not hmac.compare_digest(compute_hash(entry, key), entry.hash):
            sealed_before = entry.hash == legacy_hash(entry) or any(
                hmac.compare_digest(compute_hash(entry, k), entry.hash) for k in old_keys)
            if not (accept_old and sealed_before):
                problems.append(ChainProblem(entry.seq, UNKEYED if sealed_before
                                             else "contenu modifié (empreinte invalide)"))
        expected_prev, expected_seq, last = entry.hash, entry.seq + 1, entry
    head = session.get(AuditChainHead, 1)
    if head is not None and last is not None and (head.seq != last.seq or head.last_hash != last.hash):
        problems.append(ChainProblem(head.seq, "fin de journal supprimée ou modifiée"))
    if head is None and last is not None:
        problems.append(ChainProblem(None, "tête de chaîne absente"))
    return problems


def head() -> dict:
    """The chain's tip, to keep outside the server (`flask audit verify --export-head`)."""
    tip = db.session.scalar(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1))
    if tip is None:
        return {"seq": 0, "hash": GENESIS, "at": None}
    return {"seq": tip.seq, "hash": tip.hash, "at": tip.at.isoformat(timespec="seconds")}


def check_head(saved: dict) -> list[ChainProblem]:
    """A head exported earlier must still be in the chain, with the same hash: otherwise the
    journal was cut back or rewritten (even by someone holding the key)."""
    try:
        seq, digest = int(saved["seq"]), str(saved["hash"])
    except (KeyError, TypeError, ValueError):
        return [ChainProblem(None, "tête exportée illisible")]
    if seq == 0:
        return []
    entry = db.session.scalar(select(AuditRecord).where(AuditRecord.seq == seq))
    if entry is None:
        return [ChainProblem(seq, "l'enregistrement de la tête exportée a disparu (journal tronqué)")]
    if not hmac.compare_digest(entry.hash, digest):
        return [ChainProblem(seq, "la tête exportée ne correspond plus : journal réécrit depuis l'export")]
    return []


class ChainError(Exception):
    """The chain is broken: re-sealing it would hide the break."""


def rekey() -> int:
    """Re-seal the whole chain with the current key, once it has been checked the old way
    (records without key, or with SECRET_KEY_PREVIOUS). Refuses a broken chain. Returns the
    number of records re-sealed; appends an `audit.rekeyed` record."""
    session = db.session
    # Take the head row first: appends wait until the chain is re-sealed.
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=AuditChainHead.seq))
    problems = verify_chain(session, accept_old=True)
    if problems:
        raise ChainError("; ".join(f"{p.seq} : {p.reason}" for p in problems[:5]))
    key = chain_key()
    previous, count = GENESIS, 0
    for entry in session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all():
        entry.prev_hash = previous
        entry.hash = compute_hash(entry, key)
        previous = entry.hash
        count += 1
    session.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=previous))
    session.flush()
    record("audit.rekeyed", count=count)
    return count
