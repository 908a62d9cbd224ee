"""`flask cases route REF [--json]`: the route a case calls for (shared/contract.md)."""

from __future__ import annotations

import json

import click

from app.cli import case_by_reference, cases_cli
from app.core.formats import date_long
from app.legal.codes import ROUTES
from app.legal.services import routing_for

# The command joins the core `cases` group rather than a group of its own: the contract
# names it `cases route`.
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
