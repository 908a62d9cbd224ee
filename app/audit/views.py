"""The association's audit journal (admins) and export history (coordinators)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth.models import User
from app.auth.permissions import can
from app.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit", template_folder="templates")
PER_PAGE = 100


@bp.route("/")
def journal():
    """Admins see every record of their association; coordinators only exports."""
    if can(current_user, "audit.view"):
        exports_only = request.args.get("exports") == "1"
    elif can(current_user, "exports.history"):
        exports_only = True
    else:
        abort(403)
    query = select(AuditRecord, User.email).outerjoin(User, User.id == AuditRecord.actor_id).where(
        AuditRecord.org_id == current_user.org_id)
    action = request.args.get("action", "")[:40]
    if exports_only:
        query = query.where(AuditRecord.action.like("export.%"))
    elif action:
        query = query.where(AuditRecord.action.like(action.replace("%", "") + "%"))
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    rows = db.session.execute(query.order_by(AuditRecord.seq.desc())
                              .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    return render_template("audit/journal.html", rows=rows[:PER_PAGE], page=page,
                           has_next=len(rows) > PER_PAGE, exports_only=exports_only, action=action)
