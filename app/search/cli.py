"""`flask search …` commands."""

from flask.cli import AppGroup

search_cli = AppGroup("search", help="Index de recherche.")

cli_groups = [search_cli]
