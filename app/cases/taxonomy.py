"""Taxonomies (codes and labels) stored in the database, with the shipped ones from data."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from sqlalchemy import or_, select

from app.cases.models import Code
from app.extensions import db

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "taxonomy.json"
KINDS = ("blocage", "demarche", "statut", "evenement", "consequence")


def shipped_codes() -> dict[str, list[list[str]]]:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return {kind: data[kind] for kind in KINDS}


def sync_shipped_codes(session=None) -> int:
    """Insert shipped codes missing from the database; never deletes. Returns how many were added."""
    session = session or db.session
    existing = {
        (c.kind, c.code) for c in session.scalars(select(Code).where(Code.org_id.is_(None)))
    }
    added = 0
    for kind, entries in shipped_codes().items():
        for position, entry in enumerate(entries):
            code, label = entry[0], entry[1]
            if (kind, code) in existing:
                continue
            description = entry[2] if len(entry) > 2 else ""
            session.add(Code(kind=kind, code=code, label=label, description=description,
                             position=position))
            added += 1
    session.flush()
    return added


class Taxonomy:
    """The codes visible to one association, loaded once per request."""

    def __init__(self, org_id: int | None):
        rows = db.session.scalars(
            select(Code)
            .where(or_(Code.org_id.is_(None), Code.org_id == org_id))
            .order_by(Code.kind, Code.org_id.is_not(None), Code.position, Code.code)
        ).all()
        self._by_kind: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        self._descriptions: dict[str, dict[str, str]] = {k: {} for k in KINDS}
        for row in rows:
            self._by_kind.setdefault(row.kind, {})[row.code] = row.label
            if row.description:
                self._descriptions.setdefault(row.kind, {})[row.code] = row.description

    def labels(self, kind: str) -> dict[str, str]:
        return self._by_kind[kind]

    def label(self, kind: str, code: str | None) -> str:
        if not code:
            return ""
        return self._by_kind.get(kind, {}).get(code, code)

    def descriptions(self, kind: str) -> list[tuple[str, str]]:
        """(label, description) of the codes that have a description: help text for forms."""
        return [(self._by_kind[kind][code], text) for code, text in self._descriptions.get(kind, {}).items()
                if code in self._by_kind[kind]]

    def choices(self, kind: str) -> list[tuple[str, str]]:
        return list(self._by_kind[kind].items())

    def resolve(self, kind: str, value: str) -> str | None:
        """A code from a code or a label, case- and accent-insensitive; None if unknown."""
        wanted = _fold(value)
        for code, label in self._by_kind[kind].items():
            if _fold(code) == wanted or _fold(label) == wanted:
                return code
        return None


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text).strip().lower())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())
