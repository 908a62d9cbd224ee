"""Export routes (brief, exhibits zip, workbook, dossier, dashboard)."""

from flask import Blueprint

bp = Blueprint("exports", __name__, template_folder="templates")
