"""The role matrix (README "Rôles"): one function per capability, used by views and tests."""

from __future__ import annotations

from app.auth.models import Role

# capability -> roles allowed. Keep in step with the README's table.
MATRIX: dict[str, frozenset[Role]] = {
    "cases.view": frozenset(Role),
    "cases.edit": frozenset({Role.VOLUNTEER, Role.LAWYER, Role.ADMIN}),
    "identity.view": frozenset({Role.VOLUNTEER, Role.LAWYER, Role.ADMIN}),
    "exhibits.add": frozenset({Role.VOLUNTEER, Role.LAWYER, Role.ADMIN}),
    "exhibits.download": frozenset({Role.VOLUNTEER, Role.LAWYER, Role.ADMIN}),
    "exhibits.manage": frozenset({Role.LAWYER, Role.ADMIN}),
    "exports.brief": frozenset({Role.LAWYER, Role.ADMIN}),
    # The « Voie de droit » panel: which remedy the facts call for (app/legal).
    "legal.route": frozenset({Role.VOLUNTEER, Role.LAWYER, Role.ADMIN}),
    # Letters before court (préfet, motifs, Défenseur des droits): they carry the person's identity.
    "letters.draft": frozenset({Role.VOLUNTEER, Role.LAWYER, Role.ADMIN}),
    # « Échéances » (app/deadlines): references, dates, kinds and what to do — no identity.
    "deadlines.view": frozenset(Role),
    "exports.anonymised": frozenset({Role.LAWYER, Role.COORDINATOR, Role.ADMIN}),
    "exports.identified": frozenset({Role.ADMIN}),
    "dashboard.view": frozenset({Role.LAWYER, Role.COORDINATOR, Role.ADMIN}),
    "exports.history": frozenset({Role.COORDINATOR, Role.ADMIN}),
    # A coalition's pooled figures (app/coalitions): anonymised only, for member associations.
    "coalitions.view": frozenset({Role.COORDINATOR, Role.ADMIN}),
    # Accept, leave, invite; publish /stats/<slug> (the association's or a coalition's).
    "coalitions.manage": frozenset({Role.ADMIN}),
    "audit.view": frozenset({Role.ADMIN}),
    "accounts.manage": frozenset({Role.ADMIN}),
    "taxonomy.manage": frozenset({Role.ADMIN}),
    # People's rights (app/privacy): legal hold, erasure, retention period.
    "privacy.legal_hold": frozenset({Role.LAWYER, Role.ADMIN}),
    "privacy.erase": frozenset({Role.ADMIN}),
    "privacy.settings": frozenset({Role.ADMIN}),
}


def can(user, capability: str) -> bool:
    """True if the user's role grants the capability. Unknown capabilities are refused."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return Role(user.role) in MATRIX.get(capability, frozenset())
