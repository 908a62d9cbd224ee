"""Coalitions and public pages: who belongs, who may see the pooled figures, what is published.

Pooled and published figures are always anonymised (app/exports/summary.py, threshold): a
member association sees the coalition's counts, never another association's identity,
narrative, exhibit, reference or case list. Membership is read at every request, so an
association that leaves stops contributing at once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select

from app.audit import services as audit
from app.auth.models import Organisation
from app.cases.models import Case
from app.coalitions.models import INVITED, LEFT, MEMBER, Coalition, CoalitionMember, OrgPublication
from app.core.clock import utcnow
from app.extensions import db

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class CoalitionError(ValueError):
    """A request about a coalition that cannot be carried out (French reason)."""


def _normalise(slug: str) -> str:
    """Slug compared as a reader would: accents, case and separators ignored."""
    text = unicodedata.normalize("NFKD", slug).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def _check_slug(slug: str) -> str:
    slug = (slug or "").strip()
    if not SLUG.match(slug):
        raise CoalitionError("identifiant invalide : lettres minuscules sans accent, chiffres et tirets "
                             "(64 caractères au plus), par exemple « reseau-anef ».")
    wanted = _normalise(slug)
    # /stats/<slug> serves associations and coalitions alike: one namespace for both.
    for existing in db.session.scalars(select(Organisation.slug)):
        if _normalise(existing) == wanted:
            raise CoalitionError(f"l'identifiant « {slug} » est déjà celui d'une association.")
    for existing in db.session.scalars(select(Coalition.slug)):
        if _normalise(existing) == wanted:
            raise CoalitionError(f"une coalition porte déjà l'identifiant « {existing} ».")
    return slug


def create(slug: str, name: str, actor=None) -> Coalition:
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        raise CoalitionError("nom manquant ou trop long (200 caractères au plus).")
    coalition = Coalition(slug=_check_slug(slug), name=name)
    db.session.add(coalition)
    db.session.flush()
    audit.record("coalition.created", actor=actor, org_id=getattr(actor, "org_id", None), coalition=coalition.slug)
    return coalition


def get(slug: str) -> Coalition | None:
    return db.session.scalar(select(Coalition).where(Coalition.slug == slug)) if slug else None


def membership(coalition: Coalition, org_id: int) -> CoalitionMember | None:
    return db.session.scalar(select(CoalitionMember).where(CoalitionMember.coalition_id == coalition.id,
                                                           CoalitionMember.org_id == org_id))


def join(coalition: Coalition, org: Organisation, actor=None) -> CoalitionMember:
    """The association becomes a member at once (the command line acts for the installation, at
    the association's request; on the web an invitation waits for its admin: `invite`)."""
    member = membership(coalition, org.id)
    if member is not None and member.state == MEMBER:
        raise CoalitionError(f"l'association « {org.slug} » est déjà membre de « {coalition.slug} ».")
    if member is None:
        member = CoalitionMember(coalition_id=coalition.id, org_id=org.id)
        db.session.add(member)
    member.state, member.joined_at, member.left_at = MEMBER, utcnow(), None
    db.session.flush()
    audit.record("coalition.joined", actor=actor, org_id=org.id, coalition=coalition.slug)
    return member


def invite(coalition: Coalition, org: Organisation, actor) -> CoalitionMember:
    """An admin of a member association invites another one; its admin accepts or not."""
    if membership_state(coalition, actor.org_id) != MEMBER:
        raise CoalitionError("seule une association membre peut inviter.")
    member = membership(coalition, org.id)
    if member is not None and member.state in (MEMBER, INVITED):
        raise CoalitionError("cette association est déjà membre ou invitée.")
    if member is None:
        member = CoalitionMember(coalition_id=coalition.id, org_id=org.id)
        db.session.add(member)
    member.state, member.invited_at, member.left_at = INVITED, utcnow(), None
    db.session.flush()
    audit.record("coalition.invited", actor=actor, org_id=actor.org_id, coalition=coalition.slug, invited=org.slug)
    return member


def accept(coalition: Coalition, org_id: int, actor) -> None:
    member = membership(coalition, org_id)
    if member is None or member.state != INVITED:
        raise CoalitionError("aucune invitation en attente pour cette coalition.")
    member.state, member.joined_at = MEMBER, utcnow()
    audit.record("coalition.joined", actor=actor, org_id=org_id, coalition=coalition.slug)


def leave(coalition: Coalition, org_id: int, actor=None) -> None:
    """Leave (or decline an invitation): the association's cases stop counting at once."""
    member = membership(coalition, org_id)
    if member is None or member.state == LEFT:
        raise CoalitionError("l'association n'est pas membre de cette coalition.")
    member.state, member.left_at = LEFT, utcnow()
    audit.record("coalition.left", actor=actor, org_id=org_id, coalition=coalition.slug)


def membership_state(coalition: Coalition, org_id: int) -> str | None:
    member = membership(coalition, org_id)
    return member.state if member else None


def member_orgs(coalition: Coalition) -> list[Organisation]:
    """The member associations, in joining order (invited and departed ones left out)."""
    return list(db.session.scalars(
        select(Organisation).join(CoalitionMember, CoalitionMember.org_id == Organisation.id)
        .where(CoalitionMember.coalition_id == coalition.id, CoalitionMember.state == MEMBER)
        .order_by(CoalitionMember.joined_at, CoalitionMember.id)))


def coalitions_of(org_id: int, *, states=(MEMBER,)) -> list[Coalition]:
    return list(db.session.scalars(
        select(Coalition).join(CoalitionMember, CoalitionMember.coalition_id == Coalition.id)
        .where(CoalitionMember.org_id == org_id, CoalitionMember.state.in_(states)).order_by(Coalition.name)))


def contributions(orgs: list[Organisation], ids_by_org: dict[int, int]) -> list[tuple[str, int]]:
    return [(org.name, ids_by_org.get(org.id, 0)) for org in orgs]


def case_counts(org_ids: list[int]) -> dict[int, int]:
    if not org_ids:
        return {}
    return dict(db.session.execute(select(Case.org_id, func.count()).where(Case.org_id.in_(org_ids))
                                   .group_by(Case.org_id)).all())


# --- publication ------------------------------------------------------------------------------

@dataclass
class Publisher:
    """What /stats/<slug> names: an association or a coalition."""

    kind: str  # "org" or "coalition"
    slug: str
    name: str
    org_ids: list[int]
    published_at: object | None


def publisher(slug: str) -> Publisher | None:
    """The association or coalition behind a slug, published or not (None: no such slug)."""
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug)) if slug else None
    if org is not None:
        publication = db.session.get(OrgPublication, org.id)
        return Publisher("org", org.slug, org.name, [org.id], publication.published_at if publication else None)
    coalition = get(slug)
    if coalition is not None:
        return Publisher("coalition", coalition.slug, coalition.name, [o.id for o in member_orgs(coalition)],
                         coalition.stats_published_at)
    return None


def set_published(slug: str, published: bool, actor=None) -> Publisher:
    """Publish or withdraw /stats/<slug>. Raises CoalitionError (unknown slug, French reason)."""
    target = publisher(slug)
    if target is None:
        raise CoalitionError(f"aucune association ni coalition « {slug} ».")
    if target.kind == "org":
        publication = db.session.get(OrgPublication, target.org_ids[0])
        if published and publication is None:
            db.session.add(OrgPublication(org_id=target.org_ids[0], published_at=utcnow()))
        elif not published and publication is not None:
            db.session.delete(publication)
    else:
        get(slug).stats_published_at = utcnow() if published else None
    db.session.flush()
    audit.record("stats.published" if published else "stats.withdrawn", actor=actor,
                 org_id=getattr(actor, "org_id", None), target=slug)
    return publisher(slug)
