"""Legal engine: outcomes on the timeline, nature of pièces, civility and birth place.

- events.outcome: the outcome code of an ORDONNANCE or the kind of a REFERE. Existing rows
  are filled only where the description makes it certain (one category named, no negation);
  the rest stay blank and the case page asks for them.
- exhibits.nature: what the pièce is (capture d'écran, courrier, accusé LRAR…), filled from
  the sniffed type for existing rows.
- persons.civility, persons.birth_place: optional, for the requête's « POUR ».
- the event types REFUS and OQTF (taxonomy), when missing.

Revision ID: 0007_legal
Revises: 0006_privacy
"""
import json
import re
import unicodedata
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '0007_legal'
down_revision = '0006_privacy'
branch_labels = None
depends_on = None

NEGATION = re.compile(r"\b(pas|sans|aucune?|ni|refuse|refus)\b")
ORDONNANCE_WORDS = {
    "INJONCTION": re.compile(r"\b(injonction|enjoint|enjoignant|enjoindre)"),
    "REJET": re.compile(r"\b(rejet|rejette|rejetee?s?)\b"),
    "NON-LIEU": re.compile(r"\bnon[- ]lieu\b"),
    "DESISTEMENT": re.compile(r"\b(desistement|desiste)"),
}
REFERE_WORDS = {
    "L521-3": re.compile(r"(mesures? utiles?|l\.? ?521-3)"),
    "L521-1": re.compile(r"(suspension|l\.? ?521-1)"),
    "L521-2": re.compile(r"(liberte|l\.? ?521-2)"),
}


def _fold(text):
    text = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in text if not unicodedata.combining(c))


def certain_outcome(event_type, description):
    """The outcome a description states without doubt: exactly one category named, and for an
    ORDONNANCE no negation anywhere (« pas d'injonction »). None when in doubt."""
    text = _fold(description)
    words = ORDONNANCE_WORDS if event_type == "ORDONNANCE" else REFERE_WORDS
    found = [code for code, pattern in words.items() if pattern.search(text)]
    if len(found) != 1:
        return None
    if event_type == "ORDONNANCE" and NEGATION.search(text):
        return None
    return found[0]


NATURE_BY_MIME = {"message/rfc822": "COURRIEL", "application/pdf": "DOCUMENT"}


def upgrade():
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('outcome', sa.String(length=16), nullable=False, server_default=''))
    with op.batch_alter_table('exhibits') as batch:
        batch.add_column(sa.Column('nature', sa.String(length=20), nullable=False, server_default=''))
    with op.batch_alter_table('persons') as batch:
        batch.add_column(sa.Column('civility', sa.String(length=8), nullable=False, server_default=''))
        batch.add_column(sa.Column('birth_place', sa.String(length=200), nullable=False, server_default=''))

    bind = op.get_bind()
    events = sa.table('events', sa.column('id'), sa.column('type'), sa.column('description'),
                      sa.column('outcome'))
    rows = bind.execute(sa.select(events.c.id, events.c.type, events.c.description)
                        .where(events.c.type.in_(("ORDONNANCE", "REFERE")))).all()
    for row in rows:
        outcome = certain_outcome(row.type, row.description)
        if outcome:
            bind.execute(events.update().where(events.c.id == row.id).values(outcome=outcome))

    exhibits = sa.table('exhibits', sa.column('mime'), sa.column('nature'))
    bind.execute(exhibits.update().where(exhibits.c.mime.like('image/%')).values(nature='CAPTURE'))
    for mime, nature in NATURE_BY_MIME.items():
        bind.execute(exhibits.update().where(exhibits.c.mime == mime).values(nature=nature))
    bind.execute(exhibits.update().where(exhibits.c.nature == '').values(nature='DOCUMENT'))

    # Event types REFUS and OQTF: a database created before they shipped lacks them.
    taxonomy = json.loads((Path(__file__).resolve().parents[2] / "app" / "data" / "taxonomy.json")
                          .read_text(encoding="utf-8"))
    codes = sa.table("codes", sa.column("kind"), sa.column("code"), sa.column("label"),
                     sa.column("description"), sa.column("position"), sa.column("org_id"))
    existing = {r.code for r in bind.execute(sa.select(codes.c.code).where(
        codes.c.kind == "evenement", codes.c.org_id.is_(None)))}
    missing = [{"kind": "evenement", "code": entry[0], "label": entry[1],
                "description": entry[2] if len(entry) > 2 else "", "position": position, "org_id": None}
               for position, entry in enumerate(taxonomy["evenement"]) if entry[0] not in existing]
    if missing:
        op.bulk_insert(codes, missing)


def downgrade():
    # The REFUS / OQTF codes stay: events may use them, and sync would add them back anyway.
    with op.batch_alter_table('persons') as batch:
        batch.drop_column('birth_place')
        batch.drop_column('civility')
    with op.batch_alter_table('exhibits') as batch:
        batch.drop_column('nature')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('outcome')
