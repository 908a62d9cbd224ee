"""`flask evidence …` commands."""

from flask.cli import AppGroup

evidence_cli = AppGroup("evidence", help="Pièces : ajout, vérification, OCR.")

cli_groups = [evidence_cli]
