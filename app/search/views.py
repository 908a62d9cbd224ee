"""Search page: one box, filters, facet counts, highlighted excerpts."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from app.auth.permissions import can
from app.cases.taxonomy import Taxonomy
from app.cases.views import parse_filters
from app.core import departements, workers
from app.search import services

bp = Blueprint("search", __name__, template_folder="templates")

PER_PAGE = 20
SORT_LABELS = {"relevance": "Pertinence", "date": "Date d'ouverture", "urgency": "Urgence"}


def init_app(app) -> None:
    services.install_session_hooks()
    workers.register("search-outbox", services.worker_tick, 2.0)


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), services.MAX_PAGE))
    except ValueError:
        return 1


@bp.route("/search")
def search():
    if not can(current_user, "cases.view"):
        abort(403)
    text = request.args.get("q", "")
    filters = parse_filters(request.args)
    sort = request.args.get("sort", "relevance")
    identity = can(current_user, "identity.view")
    results = services.search(current_user.org_id, text, filters, identity=identity, page=_page(),
                              per_page=PER_PAGE, sort=sort)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("search/search.html", results=results, q=text, filters=filters, args=args,
                           taxonomy=Taxonomy(current_user.org_id), departements=departements.choices(),
                           show_identity=identity, sort_labels=SORT_LABELS)
