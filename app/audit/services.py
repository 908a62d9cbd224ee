"""Append to and verify the hash-chained audit journal.

Records name objects (type and id) and carry non-personal detail (filters, counts,
file hashes); callers never pass names, numbers or free text typed about a person.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select, update

from app.audit.models import AuditChainHead, AuditRecord
from app.core.clock import utcnow
from app.extensions import db

GENESIS = "0" * 64


def _canonical(detail: dict) -> str:
    return json.dumps(detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def compute_hash(record: AuditRecord) -> str:
    payload = _canonical({
        "seq": record.seq,
        "at": record.at.isoformat(timespec="microseconds"),
        "org_id": record.org_id,
        "actor_id": record.actor_id,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "detail": record.detail,
        "prev_hash": record.prev_hash,
    })
    return hashlib.sha256(payload.encode()).hexdigest()


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


def verify_chain(session=None) -> list[ChainProblem]:
    """Walk the chain in order; return every break (edited, inserted, deleted or truncated)."""
    session = session or db.session
    problems: list[ChainProblem] = []
    expected_prev, expected_seq = GENESIS, 1
    last = None
    for entry in session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).yield_per(1000):
        if entry.seq != expected_seq:
            problems.append(ChainProblem(entry.seq, f"séquence rompue : attendu {expected_seq}"))
        if entry.prev_hash != expected_prev:
            problems.append(ChainProblem(entry.seq, "chaînage rompu (enregistrement supprimé ou inséré)"))
        if compute_hash(entry) != entry.hash:
            problems.append(ChainProblem(entry.seq, "contenu modifié (empreinte invalide)"))
        expected_prev, expected_seq, last = entry.hash, entry.seq + 1, entry
    head = session.get(AuditChainHead, 1)
    if head is not None and last is not None and (head.seq != last.seq or head.last_hash != last.hash):
        problems.append(ChainProblem(head.seq, "fin de journal supprimée ou modifiée"))
    if head is None and last is not None:
        problems.append(ChainProblem(None, "tête de chaîne absente"))
    return problems
