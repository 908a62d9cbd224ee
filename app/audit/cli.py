"""`flask audit verify [--export-head FILE] [--check-head FILE]` and `flask audit rekey`, added to
the `audit` group of app/cli.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from sqlalchemy import func, select

from app.cli import audit_cli, fail
from app.extensions import db


@audit_cli.command("verify")
@click.option("--export-head", "export_head", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Écrit la tête de chaîne (numéro, empreinte, date) dans ce fichier (« - » : la sortie), "
                   "à conserver hors du serveur.")
@click.option("--check-head", "check_head", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Vérifie qu'une tête exportée auparavant est toujours dans la chaîne.")
def audit_verify(export_head, check_head):
    """Vérifie le chaînage et les sceaux (HMAC) du journal ; code de sortie non nul s'il a été altéré."""
    from app.audit.models import AuditRecord
    from app.audit.services import check_head as head_problems, head, verify_chain

    problems = verify_chain()
    if check_head is not None:
        try:
            saved = json.loads(check_head.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            saved = {}
        problems += head_problems(saved)
    count = db.session.scalar(select(func.count(AuditRecord.id)))
    if problems:
        click.echo(f"Journal altéré : {len(problems)} problème(s).", err=True)
        for p in problems:
            click.echo(f"- enregistrement {p.seq} : {p.reason}", err=True)
        sys.exit(1)
    click.echo(f"Journal intègre : {count} enregistrement(s) vérifié(s).")
    if export_head is not None:
        text = json.dumps(head(), ensure_ascii=False)
        if str(export_head) == "-":
            click.echo(text)
        else:
            export_head.write_text(text + "\n")
            click.echo(f"Tête de chaîne écrite dans {export_head} : conservez-la hors du serveur "
                       "(« --check-head » la vérifiera).")


@audit_cli.command("rekey")
def audit_rekey():
    """Scelle de nouveau tout le journal avec la clé actuelle : une fois, pour un journal écrit avant
    la clé, ou après un changement de SECRET_KEY (l'ancienne dans SECRET_KEY_PREVIOUS). Refusé si la
    chaîne est rompue."""
    from app.audit.services import ChainError, rekey

    try:
        count = rekey()
    except ChainError as exc:
        db.session.rollback()
        fail(f"journal rompu, rien n'a été rescellé ({exc}).")
    db.session.commit()
    click.echo(f"Journal rescellé avec la clé actuelle : {count} enregistrement(s). "
               "Exportez de nouveau la tête (« flask audit verify --export-head FICHIER »).")


cli_groups: list = []  # the commands join app/cli.py's `audit` group
