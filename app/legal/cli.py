"""`flask cases route REF [--json]`: the route a case calls for (shared/contract.md)."""

from __future__ import annotations

import json

import click

from app.cli import case_by_reference, cases_cli
from app.exports.cli import exports_cli
from app.core.formats import date_long
from app.legal.codes import ROUTES
from app.legal.services import routing_for

# The commands join existing groups rather than a group of their own: the contract names them
# `cases route` and `exports letter`.
cli_groups: list = []


@cases_cli.command("route")
@click.argument("reference")
@click.option("--org", "org_slug", default=None, help="Association (si la référence existe dans plusieurs).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON : route, reasons, warnings, missing, deadlines.")
def cases_route(reference, org_slug, as_json):
    """Indique la voie de droit que les faits du dossier REFERENCE appellent, et pourquoi."""
    case, _ = case_by_reference(reference, org_slug)
    routing = routing_for(case)
    if as_json:
        click.echo(json.dumps(routing.as_json(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{case.reference} : {routing.route} — {ROUTES[routing.route]}")
    for reason in routing.reasons:
        click.echo(f"  · {reason}")
    for warning in routing.warnings:
        click.echo(f"  ! {warning.code} : {warning.message}")
    for item in routing.missing:
        click.echo(f"  manque : {item}")
    for deadline in routing.deadlines:
        click.echo(f"  échéance {date_long(deadline.date)} ({deadline.kind}) : {deadline.label}")


@exports_cli.command("letter")
@click.argument("reference")
@click.argument("kind")
@click.option("-o", "--output", required=True, help="Fichier .docx à écrire.")
@click.option("--org", "org_slug", default=None, help="Association (si la référence existe dans plusieurs).")
def exports_letter(reference, kind, output, org_slug):
    """Écrit la lettre KIND du dossier REFERENCE : prefet (demande préalable, LRAR), motifs (motifs d'un
    rejet implicite, LRAR) ou defenseur (saisine du Défenseur des droits)."""
    from pathlib import Path

    from app.cli import fail
    from app.extensions import db
    from app.legal.letters import LetterRefused
    from app.legal.services import export_letter

    case, org = case_by_reference(reference, org_slug)
    try:
        export = export_letter(case, org, None, kind.strip().lower(), source="cli")
    except LetterRefused as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    path = Path(output)
    if not path.parent.exists():
        fail(f"dossier de destination introuvable : {path.parent}")
    path.write_bytes(export.content)
    click.echo(f"{path} écrit ({len(export.content)} octets, SHA-256 {export.sha256}).")
