"""`flask exports …` commands."""

from flask.cli import AppGroup

exports_cli = AppGroup("exports", help="Exports Word et Excel.")

cli_groups = [exports_cli]
