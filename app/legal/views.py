"""The « Voie de droit » panel of the case page (the requête routes live in app/exports)."""

from __future__ import annotations

from flask import Blueprint, render_template
from markupsafe import Markup
from flask_login import current_user

from app.auth.permissions import can
from app.legal.codes import ROUTE_SHORT, ROUTES
from app.legal.services import routing_for

# No routes of its own (the requête is an export): the blueprint carries the templates.
bp = Blueprint("legal", __name__, template_folder="templates")


def route_panel(case) -> str:
    """HTML of the panel, or "" for roles that do not act on cases (coordinators)."""
    if not can(current_user, "legal.route"):
        return ""
    return Markup(render_template(  # noqa: S704 - rendered by Jinja with autoescape
        "legal/panel.html", case=case, routing=routing_for(case), routes=ROUTES,
        short=ROUTE_SHORT))
