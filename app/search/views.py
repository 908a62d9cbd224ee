"""Search page."""

from flask import Blueprint, redirect, request, url_for

bp = Blueprint("search", __name__, template_folder="templates")


@bp.route("/search")
def search():
    args = {k: v for k, v in request.args.items() if k != "q"}
    return redirect(url_for("cases.list_cases", **args))
