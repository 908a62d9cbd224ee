"""Factories for organisations, users, cases, events (and, later, exhibits)."""

from __future__ import annotations

import itertools
from datetime import date

from app.auth import services as accounts
from app.auth.models import Organisation, User
from app.cases import services as cases
from app.cases.models import Case, Event
from app.cases.services import CaseInput, EventInput
from app.cases.taxonomy import sync_shipped_codes
from app.audit.models import AuditChainHead
from app.extensions import db

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def load_reference_data() -> None:
    """What the initial migration loads: shipped codes and the audit chain head."""
    sync_shipped_codes()
    if db.session.get(AuditChainHead, 1) is None:
        db.session.add(AuditChainHead(id=1, seq=0, last_hash="0" * 64))
    db.session.flush()


def organisation(slug: str, prefix: str) -> Organisation:
    org = accounts.create_organisation(slug, f"Association {slug}", prefix)
    db.session.commit()
    return org


def user(org: Organisation, role: str, email: str | None = None) -> User:
    email = email or f"{role}{next(_counter)}@{org.slug}.test"
    account = accounts.create_user(email, org, role, PASSWORD, full_name=f"{role.title()} {org.slug}")
    db.session.commit()
    return account


def case(org: Organisation, actor: User | None = None, **fields) -> Case:
    data = CaseInput(prefecture="69", demarche="RENOUV", status="OUVERT", blocages=["API-ABS"],
                     last_name="Diallo", first_name="Amadou")
    for name, value in fields.items():
        setattr(data, name, value)
    created = cases.create_case(org, data, actor)
    db.session.commit()
    return created


def event(case_: Case, type_: str = "TENTATIVE", when: date | None = None, description: str = "",
          reference: str = "", actor: User | None = None, outcome: str = "") -> Event:
    created = cases.add_event(case_, EventInput(when or date(2025, 3, 1), type_, description, reference,
                                                outcome=outcome), actor)
    db.session.commit()
    return created
