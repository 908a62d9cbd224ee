"""The association's audit journal (admins) and export history (coordinators)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth.models import User
from app.auth.permissions import can
from app.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit", template_folder="templates")
PER_PAGE = 100
EXPORT_PREFIX = "export."
FAMILY_LABELS = {
    "auth.": "Connexions et double authentification", "case.": "Dossiers", "event.": "Chronologie",
    "exhibit.": "Pièces", "export.": "Exports", "user.": "Comptes", "org.": "Association",
    "person.": "Personnes (droits RGPD)", "consent.": "Consentements",
}


@dataclass
class JournalFilters:
    action: str = ""  # an exact action, or a family ending with "."
    actor_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def args(self) -> dict[str, str]:
        values = {"action": self.action, "user": self.actor_id,
                  "from": self.date_from and self.date_from.isoformat(), "to": self.date_to and self.date_to.isoformat()}
        return {k: str(v) for k, v in values.items() if v}


def parse_filters(args) -> JournalFilters:
    def day(name):
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    actor = args.get("user", "")
    # Action names are [a-z0-9_.]: anything else is dropped (startswith() escapes LIKE wildcards,
    # so "_" is kept: « auth.login_failed » is found).
    action = re.sub(r"[^a-z0-9_.]", "", args.get("action", "")[:40].lower())
    # Ids beyond 64 bits would overflow in the database driver (a 500): no such user.
    actor_id = int(actor) if actor.isdigit() and len(actor) <= 10 and int(actor) <= 2**31 - 1 else None
    date_to = day("to")
    if date_to is not None and date_to >= date.max - timedelta(days=1):
        date_to = None  # "until the end of time": no upper bound (date_to + 1 day would overflow)
    return JournalFilters(action=action, actor_id=actor_id, date_from=day("from"), date_to=date_to)


def journal_query(org_id: int, filters: JournalFilters, exports_only: bool):
    """The association's records, newest first; coordinators only get export records."""
    query = (select(AuditRecord, User.email).outerjoin(User, User.id == AuditRecord.actor_id)
             .where(AuditRecord.org_id == org_id))
    if exports_only:
        query = query.where(AuditRecord.action.startswith(EXPORT_PREFIX, autoescape=True))
    if filters.action.endswith("."):
        query = query.where(AuditRecord.action.startswith(filters.action, autoescape=True))
    elif filters.action:
        query = query.where(AuditRecord.action == filters.action)
    if filters.actor_id:
        query = query.where(AuditRecord.actor_id == filters.actor_id)
    if filters.date_from:
        query = query.where(AuditRecord.at >= datetime.combine(filters.date_from, time.min))
    if filters.date_to:
        query = query.where(AuditRecord.at < datetime.combine(filters.date_to + timedelta(days=1), time.min))
    return query.order_by(AuditRecord.seq.desc())


def _detail(raw: str) -> list[tuple[str, str]]:
    try:
        detail = json.loads(raw or "{}")
    except ValueError:
        return [("", raw)]
    return [(k, json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v))
            for k, v in detail.items()] if isinstance(detail, dict) else [("", raw)]


@bp.route("/")
def journal():
    """Admins see every record of their association; coordinators only exports."""
    if can(current_user, "audit.view"):
        exports_only = request.args.get("exports") == "1"
    elif can(current_user, "exports.history"):
        exports_only = True
    else:
        abort(403)
    filters = parse_filters(request.args)
    try:
        page = max(1, min(int(request.args.get("page", 1)), 100_000))
    except ValueError:
        page = 1
    query = journal_query(current_user.org_id, filters, exports_only)
    rows = db.session.execute(query.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    org_actions = select(AuditRecord.action).where(AuditRecord.org_id == current_user.org_id).distinct()
    if exports_only:
        org_actions = org_actions.where(AuditRecord.action.startswith(EXPORT_PREFIX, autoescape=True))
    actions = sorted(db.session.scalars(org_actions))
    families = [(prefix, label) for prefix, label in FAMILY_LABELS.items()
                if any(a.startswith(prefix) for a in actions)]
    members = db.session.scalars(select(User).where(User.org_id == current_user.org_id)
                                 .order_by(User.full_name, User.email)).all()
    args = filters.args() | ({"exports": "1"} if exports_only and can(current_user, "audit.view") else {})
    return render_template("audit/journal.html", rows=rows[:PER_PAGE], page=page, has_next=len(rows) > PER_PAGE,
                           exports_only=exports_only, filters=filters, actions=actions, families=families,
                           members=members, args=args, detail=_detail)
