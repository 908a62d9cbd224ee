"""`flask coalitions create SLUG NAME`, `flask coalitions join SLUG --org ORG`, `flask coalitions
leave SLUG --org ORG`, `flask coalitions list`, and `flask stats publish SLUG [--off]`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli import fail, org_or_fail
from app.coalitions import services
from app.extensions import db

coalitions_cli = AppGroup("coalitions", help="Coalitions d'associations (chiffres anonymisés mis en commun).")
stats_cli = AppGroup("stats", help="Page publique de statistiques (/stats/<slug>).")
cli_groups = [coalitions_cli, stats_cli]


def _coalition_or_fail(slug: str):
    coalition = services.get(slug.strip().lower())
    if coalition is None:
        fail(f"coalition « {slug} » introuvable (flask coalitions list).")
    return coalition


@coalitions_cli.command("create")
@click.argument("slug")
@click.argument("name")
def create_command(slug, name):
    """Crée la coalition SLUG nommée NAME (aucun membre : ajoutez-en avec « join »)."""
    try:
        coalition = services.create(slug.strip().lower(), name)
    except services.CoalitionError as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    click.echo(f"Coalition « {coalition.slug} » créée. Ajoutez au moins deux associations : "
               f"flask coalitions join {coalition.slug} --org SLUG")


@coalitions_cli.command("join")
@click.argument("slug")
@click.option("--org", "org_slug", required=True, help="Identifiant de l'association qui rejoint la coalition.")
def join_command(slug, org_slug):
    """Fait entrer l'association ORG dans la coalition SLUG (à sa demande) : ses chiffres anonymisés comptent
    aussitôt dans les chiffres communs. Elle peut en sortir dans « Coalitions » ou avec « leave »."""
    coalition = _coalition_or_fail(slug)
    org = org_or_fail(org_slug)
    try:
        services.join(coalition, org)
    except services.CoalitionError as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    members = services.member_orgs(coalition)
    click.echo(f"« {org.slug} » est membre de « {coalition.slug} » ({len(members)} association(s)).")
    if len(members) < 2:
        click.echo("Une coalition d'une seule association ne met rien en commun : ajoutez-en une deuxième.")


@coalitions_cli.command("leave")
@click.argument("slug")
@click.option("--org", "org_slug", required=True, help="Identifiant de l'association qui quitte la coalition.")
def leave_command(slug, org_slug):
    """Retire l'association ORG de la coalition SLUG : ses dossiers ne comptent plus, immédiatement."""
    coalition = _coalition_or_fail(slug)
    org = org_or_fail(org_slug)
    try:
        services.leave(coalition, org.id)
    except services.CoalitionError as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    click.echo(f"« {org.slug} » a quitté « {coalition.slug} ».")


@coalitions_cli.command("list")
def list_command():
    """Les coalitions, leurs membres et leur page publique."""
    from sqlalchemy import select

    from app.coalitions.models import Coalition

    coalitions = db.session.scalars(select(Coalition).order_by(Coalition.slug)).all()
    if not coalitions:
        click.echo("Aucune coalition.")
    for coalition in coalitions:
        members = [o.slug for o in services.member_orgs(coalition)]
        state = "publiée" if coalition.stats_published_at else "non publiée"
        click.echo(f"{coalition.slug}\t{coalition.name}\t{', '.join(members) or '(aucun membre)'}\tpage {state}")


@stats_cli.command("publish")
@click.argument("slug")
@click.option("--off", is_flag=True, help="Retire la page publique.")
def publish_command(slug, off):
    """Publie (ou retire avec --off) la page /stats/SLUG d'une association ou d'une coalition : chiffres
    anonymisés, effectifs inférieurs au seuil masqués."""
    try:
        target = services.set_published(slug.strip().lower(), not off)
    except services.CoalitionError as exc:
        db.session.rollback()
        fail(str(exc))
    if not off and target.kind == "coalition" and len(target.org_ids) < 2:
        db.session.rollback()
        fail("une coalition d'une seule association ne met rien en commun : ajoutez une deuxième association "
             "avant de publier.")
    db.session.commit()
    click.echo(f"Page /stats/{target.slug} " + ("retirée." if off else "publiée."))
