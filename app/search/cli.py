"""`flask search …` commands."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth.models import Organisation
from app.extensions import db
from app.search import services

search_cli = AppGroup("search", help="Index de recherche.")

cli_groups = [search_cli]


@search_cli.command("reindex")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Processus qui écrivent chacun une partie de l'index, côte à côte.")
def reindex(workers: int) -> None:
    """Reconstruit l'index à partir de la base de données (barre de progression)."""
    bar = None
    shown = 0

    def progress(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is False:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="Dossiers indexés", show_eta=True, show_pos=True)
            bar.__enter__()
        bar.update(done - shown)
        shown = done
        if done >= total:
            bar.__exit__(None, None, None)
            bar = False  # closed: the segment is written after the last document
            click.echo("Écriture de l'index sur le disque…")

    try:
        count = services.rebuild_index(wait=True, workers=workers, progress=progress)
    except RuntimeError as exc:  # a forked writer failed: nothing was committed
        raise click.ClickException(f"Reconstruction interrompue ({exc}) : rien n'a été remplacé, l'index "
                                   "précédent (s'il était lisible) reste en service ; relancez la commande.") from None
    finally:
        if bar:
            bar.__exit__(None, None, None)
    click.echo(f"Index reconstruit : {count} dossier{'s' if count > 1 else ''}.")


@search_cli.command("query")
@click.argument("text")
@click.option("--org", "slug", required=True, help="Identifiant (slug) de l'association.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON : une liste d'objets, le meilleur d'abord.")
@click.option("--per-page", default=20, show_default=True, help="Nombre de résultats.")
@click.pass_context
def query(ctx, text: str, slug: str, as_json: bool, per_page: int) -> None:
    """Ce que la page de recherche montrerait à l'association : les références, la meilleure d'abord."""
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        click.echo(f"Association inconnue : « {slug} ».", err=True)
        ctx.exit(1)
    services.ensure_index(background=False)
    results = services.search(org.id, text, None, identity=True, per_page=max(1, min(per_page, 500)))
    if results.unavailable:
        click.echo(results.hint, err=True)
        ctx.exit(1)
    if as_json:
        click.echo(json.dumps([
            {"reference": h.reference, "case_id": h.case_id, "score": h.score,
             "excerpts": [e.html.striptags() for e in h.excerpts]}
            for h in results.hits], ensure_ascii=False, indent=2))
        return
    if results.hint:
        click.echo(results.hint, err=True)
    if results.notice:
        click.echo(results.notice, err=True)
    click.echo(f"{results.total} dossier{'s' if results.total > 1 else ''}.")
    for hit in results.hits:
        excerpt = hit.excerpts[0].html.striptags() if hit.excerpts else ""
        click.echo(f"{hit.reference}\t{hit.score if hit.score is not None else ''}\t{excerpt}")
