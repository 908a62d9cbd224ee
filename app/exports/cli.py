"""`flask exports …` commands: the installation itself exports (no user), and says so in the audit."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.cases.views import parse_filters
from app.cli import case_by_reference, fail, org_or_fail
from app.exports import services
from app.exports.xlsx import WorkbookTooLarge
from app.extensions import db

exports_cli = AppGroup("exports", help="Exports Word et Excel.")

cli_groups = [exports_cli]


def _write(export: services.ExportFile, output: str) -> None:
    path = Path(output)
    if path.parent and not path.parent.exists():
        fail(f"dossier de destination introuvable : {path.parent}")
    path.write_bytes(export.content)
    click.echo(f"{path} écrit ({len(export.content)} octets, SHA-256 {export.sha256}).")


def _filter_options(func):
    for name, help_text in (("--status", "Statut (code)."), ("--prefecture", "Préfecture (code ou nom)."),
                            ("--code", "Blocage (code)."), ("--demarche", "Démarche (code)."),
                            ("--from", "Ouverts depuis (AAAA-MM-JJ)."), ("--to", "Ouverts jusqu'au (AAAA-MM-JJ).")):
        func = click.option(name, name.lstrip("-") + "_", default="", help=help_text)(func)
    return func


def _filters(options: dict):
    return parse_filters({k.rstrip("_"): v for k, v in options.items() if k.endswith("_") and v})


@exports_cli.command("brief")
@click.argument("reference")
@click.option("-o", "--output", required=True, help="Fichier .docx à écrire.")
@click.option("--org", "org_slug", default=None, help="Association (si la référence existe dans plusieurs).")
@click.option("--route", default="", help="Voie imposée (MESURES-UTILES, SUSPENSION, EXECUTION, "
                                          "NOUVELLES-CIRCONSTANCES) ; par défaut celle du dossier.")
def brief_command(reference, output, org_slug, route):
    """Écrit la requête (Word) du dossier REFERENCE, pour la voie de droit que ses faits appellent."""
    from app.legal.requete import RouteRefused

    case, org = case_by_reference(reference, org_slug)
    try:
        export = services.export_brief(case, org, None, route=route, source="cli")
    except RouteRefused as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    _write(export, output)


def _bundle(reference: str, output: str, org_slug: str | None) -> None:
    import shutil

    path = Path(output)
    if path.parent and not path.parent.exists():
        fail(f"dossier de destination introuvable : {path.parent}")
    case, org = case_by_reference(reference, org_slug)
    export = services.export_bundle(case, org, None, source="cli")
    try:
        shutil.copyfile(export.path, path)
    except OSError as exc:
        db.session.rollback()
        fail(f"impossible d'écrire {path} : {exc.strerror or exc}")
    finally:
        export.discard()
    db.session.commit()
    click.echo(f"{path} écrit ({export.size} octets, SHA-256 {export.sha256}).")
    pieces = export.manifest["pieces"]
    problems = [p for p in pieces if p["etat"] != "incluse"]
    click.echo(f"{len(pieces) - len(problems)} pièce(s) en PDF sur {len(pieces)} ; inventaire "
               f"{export.manifest['inventaire']['fichier']}.")
    for piece in problems:
        click.echo(f"  pièce n° {piece['numero']} {piece['etat']} : {piece['motif']}")
    for label in export.manifest["pieces_a_fournir"]:
        click.echo(f"  à fournir : {label}")
    requete = export.manifest["requete"]
    if not requete["fichier"]:
        click.echo(f"  aucune requête : {requete['motif']}")


@exports_cli.command("bundle")
@click.argument("reference")
@click.option("-o", "--output", required=True, help="Fichier .zip à écrire.")
@click.option("--org", "org_slug", default=None, help="Association (si la référence existe dans plusieurs).")
def bundle_command(reference, output, org_slug):
    """Écrit le zip Télérecours du dossier REFERENCE : une pièce PDF par fichier, l'inventaire, la
    requête sans annexes et, à part (ne_pas_deposer/), le manifeste et les originaux."""
    _bundle(reference, output, org_slug)


@exports_cli.command("zip")
@click.argument("reference")
@click.option("-o", "--output", required=True, help="Fichier .zip à écrire.")
@click.option("--org", "org_slug", default=None, help="Association (si la référence existe dans plusieurs).")
def zip_command(reference, output, org_slug):
    """Ancien nom de « exports bundle » : le zip Télérecours du dossier REFERENCE."""
    _bundle(reference, output, org_slug)


@exports_cli.command("xlsx")
@click.option("--org", "org_slug", required=True, help="Identifiant de l'association.")
@click.option("-o", "--output", required=True, help="Fichier .xlsx à écrire.")
@click.option("--q", "q", default="", help="Recherche plein texte.")
@click.option("--identified", is_flag=True, help="Avec les données identifiantes (colonnes d'import).")
@click.option("--anonymised", is_flag=True, help="Dates au mois et petits effectifs masqués (« < 5 »).")
@_filter_options
def xlsx_command(org_slug, output, q, identified, anonymised, **options):
    """Écrit le classeur des dossiers : pseudonymisé (sans identité, dates exactes) ; --identified avec
    les identités ; --anonymised avec les dates au mois et les petits effectifs masqués."""
    org = org_or_fail(org_slug)
    if identified and anonymised:
        raise click.UsageError("Choisissez --identified ou --anonymised, pas les deux.")
    try:
        export = services.export_workbook(org, None, _filters(options), q.strip(), identified=identified,
                                          anonymised=anonymised, source="cli")
    except WorkbookTooLarge as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    _write(export, output)
    click.echo(f"{export.rows} dossier(s) exporté(s).")


@exports_cli.command("dossier")
@click.option("--org", "org_slug", required=True, help="Identifiant de l'association.")
@click.option("-o", "--output", required=True, help="Fichier .docx à écrire.")
@click.option("--q", "q", default="", help="Recherche plein texte.")
@click.option("--anonymised", is_flag=True, help="Petits effectifs masqués (« < 5 »), sans tableau des dossiers.")
@_filter_options
def dossier_command(org_slug, output, q, anonymised, **options):
    """Écrit le dossier collectif (Word) : pseudonymisé, chiffres traçables ; --anonymised pour le diffuser."""
    org = org_or_fail(org_slug)
    export = services.export_dossier(org, None, _filters(options), q.strip(), anonymised=anonymised, source="cli")
    db.session.commit()
    _write(export, output)
