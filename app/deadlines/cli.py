"""`flask deadlines list --org SLUG [--days N] [--json]` and `flask deadlines notify [--dry-run]`."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli import fail, org_or_fail
from app.core.clock import today as clock_today
from app.core.formats import date_fr
from app.deadlines import services
from app.deadlines.mail import SmtpSettings

deadlines_cli = AppGroup("deadlines", help="Échéances des dossiers.")
cli_groups = [deadlines_cli]


@deadlines_cli.command("list")
@click.option("--org", "org_slug", required=True, help="Identifiant de l'association.")
@click.option("--days", default=services.DEFAULT_HORIZON, show_default=True, type=click.IntRange(0, 3660),
              help="Échéances à venir jusqu'à N jours (les échéances en retard sont toujours listées).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON : reference, date, kind, kind_label, action, overdue.")
def deadlines_list(org_slug, days, as_json):
    """Échéances en retard et à venir de l'association, les plus proches d'abord."""
    org = org_or_fail(org_slug)
    today = clock_today()
    services.refresh(org.id, today)
    rows, _ = services.list_deadlines(org.id, today, services.DeadlineFilters(days=days), per_page=None)
    if as_json:
        click.echo(json.dumps([row.as_json(today) for row in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"Aucune échéance en retard ni dans les {days} prochains jours pour « {org.slug} ».")
        return
    for row in rows:
        state = "EN RETARD" if row.date < today else "aujourd'hui" if row.date == today else \
            f"J-{row.days_from(today)}"
        click.echo(f"{date_fr(row.date)}  {state:<10}  {row.reference:<16}  {row.label} : {row.action}")


@deadlines_cli.command("refresh")
def deadlines_refresh():
    """Recalcule l'urgence et les échéances de tous les dossiers (après une mise à jour ou un changement des
    délais de la configuration ; sinon elles sont recalculées chaque jour)."""
    from sqlalchemy import select

    from app.auth.models import Organisation
    from app.cases.models import Case
    from app.cases.services import refresh_stale_urgencies
    from app.extensions import db

    table = Case.__table__
    # updated_at set to itself: recomputing derived values is not an edit.
    db.session.execute(table.update().values(deadlines_on=None, updated_at=table.c.updated_at))
    today = clock_today()
    total = sum(refresh_stale_urgencies(org_id, today, commit=True)
                for org_id in db.session.scalars(select(Organisation.id)).all())
    db.session.commit()
    click.echo(f"{total} dossier(s) recalculé(s).")


@deadlines_cli.command("notify")
@click.option("--dry-run", is_flag=True, help="Dit à qui partirait quoi, sans rien envoyer.")
def deadlines_notify(dry_run):
    """Envoie à chaque membre le récapitulatif des échéances des dossiers qu'il suit (à lancer chaque jour)."""
    settings = SmtpSettings.from_config(current_app.config)
    report = services.notify(clock_today(), settings=settings, base_url=current_app.config["BASE_URL"],
                             dry_run=dry_run)
    if settings is None and dry_run:
        click.echo("SMTP_HOST n'est pas configuré : rien ne pourrait être envoyé (simulation seulement).")
    for address, count in report.planned:
        click.echo(f"à envoyer : {address} ({count} échéance(s))")
    for address, count in report.sent:
        click.echo(f"envoyé : {address} ({count} échéance(s))")
    for address in report.refused:
        click.echo(f"refusé par le serveur : {address} (nouvel essai au prochain passage)", err=True)
    summary = [f"{len(report.planned if dry_run else report.sent)} récapitulatif(s) "
               + ("à envoyer" if dry_run else "envoyé(s)")]
    if report.already:
        summary.append(f"{report.already} déjà envoyé(s) aujourd'hui")
    if report.not_due:
        summary.append(f"{report.not_due} hebdomadaire(s) pas encore dû(s)")
    if report.nothing:
        summary.append(f"{report.nothing} sans échéance")
    if report.no_email:
        summary.append(f"{report.no_email} compte(s) sans adresse électronique valide")
    click.echo(" ; ".join(summary) + ".")
    if report.unavailable:
        left = f" {report.left} récapitulatif(s) partiront au prochain passage." if report.left else ""
        fail(f"{report.unavailable}{left}")
    if report.refused:
        sys.exit(1)
