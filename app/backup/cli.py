"""`flask backup create|verify|restore PATH`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.backup import services

backup_cli = AppGroup("backup", help="Sauvegarde et restauration (base, pièces, modèles).")


def _fail(message: str):
    click.echo(f"Erreur : {message}", err=True)
    sys.exit(1)


@backup_cli.command("create")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def backup_create(path: Path):
    """Écrit une sauvegarde cohérente dans le dossier PATH (nouveau ou vide), même pendant
    que l'application tourne. L'index de recherche et la clé secrète ne sont pas inclus."""
    try:
        manifest = services.create_backup(current_app.config, path)
    except services.BackupError as exc:
        _fail(str(exc))
    exhibits = sum(1 for p in manifest.files if p.startswith("files/exhibits/"))
    click.echo(f"Sauvegarde écrite dans {path.resolve()} : {manifest.counts['cases']} dossier(s), "
               f"{exhibits} fichier(s) de pièces, {len(manifest.files)} fichier(s) au total ({manifest.backend}).")
    if manifest.missing_exhibits:
        click.echo(f"Attention : {len(manifest.missing_exhibits)} pièce(s) référencée(s) absente(s) du stockage ; "
                   "lancez « flask evidence verify ».", err=True)
    click.echo("Rappel : la clé secrète (SECRET_KEY ou DATA_DIR/secret_key) n'est pas dans la sauvegarde ; "
               "conservez-la à part.")


@backup_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def backup_verify(path: Path):
    """Vérifie chaque fichier de la sauvegarde PATH contre son empreinte SHA-256 ; code de sortie
    non nul au moindre écart."""
    try:
        manifest, problems = services.verify_backup(path, current_app.config)
    except services.BackupError as exc:
        _fail(str(exc))
    if problems:
        click.echo(f"Sauvegarde endommagée : {len(problems)} problème(s).", err=True)
        for problem in problems:
            click.echo(f"- {problem}", err=True)
        sys.exit(1)
    click.echo(f"Sauvegarde intègre : {len(manifest.files)} fichier(s) vérifié(s), "
               f"{manifest.counts.get('cases', 0)} dossier(s), faite le {manifest.created_at} UTC.")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def backup_restore(path: Path):
    """Restaure la sauvegarde PATH dans le DATA_DIR et la base configurés, qui doivent être vides."""
    from sqlalchemy import insert, literal, select

    from app.core.clock import utcnow

    from app.cases.models import Case
    from app.extensions import db
    from app.search.models import IndexOutbox

    try:
        report = services.restore_backup(current_app.config, path)
    except services.BackupError as exc:
        _fail(str(exc))
    # The index is not in the backup: queue every case so the search index is rebuilt.
    db.engine.dispose()  # connections opened before the database file was put in place
    db.session.execute(insert(IndexOutbox).from_select(
        ["case_id", "action", "enqueued_at"], select(Case.id, literal("update"), literal(utcnow()))))
    db.session.commit()
    click.echo(f"Restauration terminée : {report.cases} dossier(s), {report.files} fichier(s) copié(s) et vérifié(s).")
    click.echo("Ensuite : « flask db upgrade » (si la version a changé) puis « flask search reindex ». "
               "Remettez la clé secrète d'origine (SECRET_KEY) pour garder les sessions et les pseudonymes.")


cli_groups = [backup_cli]
