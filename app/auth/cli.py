"""`flask users rekey-secrets`, added to the `users` group of app/cli.py."""

from __future__ import annotations

import click

from app.cli import fail, users_cli
from app.extensions import db


@users_cli.command("rekey-secrets")
def users_rekey_secrets():
    """Chiffre de nouveau les secrets de double authentification avec la clé actuelle (après un
    changement de SECRET_KEY, l'ancienne dans SECRET_KEY_PREVIOUS, ou pour ceux stockés en clair)."""
    from app.auth.services import rekey_secrets

    try:
        count = rekey_secrets()
    except ValueError:
        db.session.rollback()
        fail("un secret ne s'ouvre avec aucune clé connue : remettez l'ancienne clé dans SECRET_KEY_PREVIOUS. "
             "Rien n'a été modifié.")
    db.session.commit()
    click.echo(f"{count} secret(s) de double authentification chiffré(s) avec la clé actuelle.")


cli_groups: list = []  # the command joins app/cli.py's `users` group
