"""Exhibit routes (upload, download, preview)."""

from flask import Blueprint

bp = Blueprint("evidence", __name__, template_folder="templates")
