"""« Échéances » (`GET /deadlines`) and the calendar feeds (`GET /calendar/<token>.ics`)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user
from sqlalchemy import select

from app.auth.models import User
from app.auth.permissions import can
from app.cases.deadlines import KIND_LABELS
from app.cases.services import refresh_for_page, refresh_tick
from app.core import workers
from app.core.clock import today as clock_today
from app.core.views import PUBLIC_ENDPOINTS
from app.deadlines import services
from app.extensions import db

bp = Blueprint("deadlines", __name__, template_folder="templates")


def init_app(app) -> None:
    # The feed is fetched by calendar applications, which carry no session: its secret token
    # is the credential (app/deadlines/calendar.py).
    PUBLIC_ENDPOINTS.add("deadlines.calendar_feed")
    # Urgencies and deadlines move with the date: recomputed in the background as the day begins,
    # by the app's own thread on the embedded default, by `flask worker` with several servers.
    workers.register("day-refresh", refresh_tick, 30.0)


def _members():
    return db.session.scalars(select(User).where(User.org_id == current_user.org_id, User.active)
                              .order_by(User.full_name, User.email)).all()


def _filters(args, members) -> services.DeadlineFilters:
    days = args.get("days", "")
    follower = args.get("suivi", "")[:12]
    if follower not in (services.FOLLOW_ME, services.FOLLOW_NOBODY) and follower not in {str(m.id) for m in members}:
        follower = ""
    kind = args.get("kind", "")
    return services.DeadlineFilters(
        days=int(days) if days.isdigit() and int(days) in services.HORIZONS else services.DEFAULT_HORIZON,
        kind=kind if kind in KIND_LABELS else "", follower=follower)


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        return 1


@bp.route("/deadlines")
def index():
    if not can(current_user, "deadlines.view"):
        abort(403)
    today = clock_today()
    pending = refresh_for_page(current_user.org_id)
    members = _members()
    filters = _filters(request.args, members)
    page = _page()
    rows, total = services.list_deadlines(current_user.org_id, today, filters, current_user, page)
    counts = services.counts_by_kind(current_user.org_id, today, filters.days, filters.follower, current_user)
    args = {k: v for k, v in (("days", filters.days), ("kind", filters.kind), ("suivi", filters.follower)) if v}
    return render_template("deadlines/index.html", rows=rows, total=total, today=today, filters=filters,
                           counts=counts, members=members, kinds=KIND_LABELS, horizons=services.HORIZONS,
                           page=page, pages=max(1, -(-total // services.PER_PAGE)), args=args, pending=pending,
                           FOLLOW_ME=services.FOLLOW_ME, FOLLOW_NOBODY=services.FOLLOW_NOBODY)


@bp.route("/calendar/<token>.ics")
def calendar_feed(token: str):
    user = services.user_for_token(token, current_app.config["SECRET_KEY"])
    if user is None:
        abort(404)  # malformed, unknown, revoked or another user's: the same answer
    body = services.calendar_feed(user, clock_today(), current_app.config["BASE_URL"])
    db.session.commit()
    return Response(body, mimetype="text/calendar", content_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'inline; filename="constat-echeances.ics"'})
