"""`flask retention apply [--dry-run]`: anonymise cases past their association's retention period."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import Organisation
from app.core.clock import utcnow
from app.extensions import db
from app.privacy import services

retention_cli = AppGroup("retention", help="Durée de conservation des données personnelles.")


@retention_cli.command("apply")
@click.option("--dry-run", is_flag=True, help="Liste ce qui serait anonymisé, sans rien modifier.")
@click.option("--org", "org_slug", default=None, help="Une seule association (par défaut : toutes).")
def retention_apply(dry_run: bool, org_slug: str | None):
    """Anonymise les dossiers sans activité depuis la durée de conservation de leur association
    (730 jours par défaut) ; les dossiers sous conservation pour procédure sont épargnés."""
    query = select(Organisation).order_by(Organisation.slug)
    if org_slug:
        query = query.where(Organisation.slug == org_slug.strip().lower())
    orgs = db.session.scalars(query).all()
    if org_slug and not orgs:
        raise click.ClickException(f"association « {org_slug} » introuvable.")
    now = utcnow()
    total = 0
    for org in orgs:
        plan = services.plan_retention(org, now=now)
        click.echo(f"{org.slug} : conservation {plan.retention_days} jours, dernière activité avant le "
                   f"{plan.cutoff:%d/%m/%Y} → {len(plan.due)} dossier(s) à anonymiser"
                   + (f", {len(plan.held)} conservé(s) pour procédure" if plan.held else "") + ".")
        for item in plan.due:
            click.echo(f"  {item.reference}  dernière activité {item.last_activity:%d/%m/%Y}  "
                       f"{'serait anonymisé' if dry_run else 'anonymisé'} : {item.describe()}")
        for item in plan.held:
            click.echo(f"  {item.reference}  dernière activité {item.last_activity:%d/%m/%Y}  "
                       "épargné : conservation pour procédure")
        if dry_run or not plan.due:
            continue
        result = services.apply_retention(plan)
        db.session.commit()
        services.purge_files(result.files_to_purge)
        total += len(result.plans)
    if dry_run:
        db.session.rollback()
        click.echo("Simulation : rien n'a été modifié.")
    else:
        from app.search import services as search_services

        search_services.after_commit_hook()
        click.echo(f"{total} dossier(s) anonymisé(s).")


cli_groups = [retention_cli]
