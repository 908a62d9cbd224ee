"""`flask evidence …` commands: add a file to a case, verify the store, work the OCR queue."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import case_by_reference, fail
from app.extensions import db
from app.legal.codes import NATURES

evidence_cli = AppGroup("evidence", help="Pièces : ajout, vérification, OCR.")


@evidence_cli.command("add")
@click.argument("reference")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--description", default="", help="Ce que montre la pièce.")
@click.option("--captured-at", default="", help="Date de la capture (AAAA-MM-JJ ou JJ/MM/AAAA).")
@click.option("--org", "org_slug", default=None, help="Association (si la référence existe dans plusieurs).")
@click.option("--nature", default="", metavar="CODE",
              help="Ce qu'est la pièce : " + ", ".join(NATURES) + " (par défaut : selon le type de fichier).")
def evidence_add(reference, path, description, captured_at, org_slug, nature):
    """Ajoute le fichier PATH comme pièce du dossier REFERENCE (mêmes contrôles que le site)."""
    from app.evidence.services import ExhibitRefused, add_exhibit

    nature = nature.strip().upper()
    if nature and nature not in NATURES:
        fail(f"nature de pièce inconnue : « {nature[:20]} ». Codes possibles : "
             + " ; ".join(f"{code} ({label})" for code, label in NATURES.items()) + ". Rien n'a été enregistré.")
    case = case_by_reference(reference, org_slug)[0]
    limit = current_app.config["MAX_EXHIBIT_BYTES"]
    try:
        with open(path, "rb") as fh:
            result = add_exhibit(case, fh, path.name, None, description=description,
                                 captured_at=captured_at or None, max_bytes=limit, nature=nature or None)
    except OSError as exc:
        db.session.rollback()
        fail(f"lecture du fichier impossible ({exc.strerror or exc}).")
    except ExhibitRefused as exc:
        db.session.rollback()
        fail(f"pièce refusée : {exc} Rien n'a été enregistré.")
    db.session.commit()
    exhibit = result.exhibit
    if result.duplicate:
        click.echo(f"Déjà présente : ce fichier est la pièce n° {exhibit.number} du dossier {case.reference}.")
    else:
        click.echo(f"Pièce n° {exhibit.number} ajoutée au dossier {case.reference} "
                   f"({NATURES.get(exhibit.nature, exhibit.nature).lower()}, {exhibit.mime}, {exhibit.size} octets, "
                   f"sha256 {exhibit.sha256}).")


# An orphan younger than this may be an upload whose row is not committed yet: never removed.
ORPHAN_MIN_AGE_SECONDS = 3600


def remove_orphans_now(orphans) -> tuple[int, int]:
    """Delete orphan files (no exhibit row, of any case, points to them) older than an hour; each
    removal is audited with its digest and size. Returns (removed, spared as too recent)."""
    import time

    from app.audit import services as audit
    from app.evidence.models import Exhibit
    from app.evidence.storage import store

    exhibit_store = store()
    removed = spared = 0
    for problem in orphans:
        path = exhibit_store.path_for(problem.sha256)
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if time.time() - stat.st_mtime < ORPHAN_MIN_AGE_SECONDS:
            spared += 1
            continue
        # Checked again right before deleting: a row committed since the scan keeps its file.
        if db.session.scalar(select(Exhibit.id).where(Exhibit.sha256 == problem.sha256).limit(1)) is not None:
            continue
        exhibit_store.remove(problem.sha256)
        audit.record("exhibit.orphan_removed", object_type="file", object_id=problem.sha256[:16],
                     sha256=problem.sha256, size=stat.st_size)
        db.session.commit()
        removed += 1
    return removed, spared


@evidence_cli.command("verify")
@click.option("--remove-orphans", is_flag=True,
              help="Supprime les fichiers orphelins (aucune pièce ne les référence) de plus d'une heure ; "
                   "chaque suppression est journalisée.")
def evidence_verify(remove_orphans):
    """Recalcule l'empreinte de chaque pièce ; code de sortie non nul si une pièce manque ou a changé."""
    import time

    from app.evidence.services import verify_all

    started = time.perf_counter()
    report = verify_all()
    if remove_orphans and report.orphans:
        removed, spared = remove_orphans_now(report.orphans)
        click.echo(f"{removed} orphelin(s) supprimé(s) (journalisé)"
                   + (f", {spared} trop récent(s) gardé(s) (envoi peut-être en cours)" if spared else "") + ".")
        report = verify_all()
    elapsed = time.perf_counter() - started
    labels = {"missing": "manquant", "altered": "altéré", "orphan": "orphelin (aucune pièce ne le référence)"}
    for problem in report.problems():
        where = ", ".join(f"{ref} pièce n° {n}" for ref, n in problem.exhibits) or problem.detail
        extra = f" ({problem.detail})" if problem.detail and problem.exhibits else ""
        click.echo(f"- {labels[problem.kind]} : {problem.sha256} — {where}{extra}", err=True)
    from app.evidence.storage import store

    strays = sum(1 for _ in store().iter_strays())
    if strays:
        # Leftovers of interrupted writes: never exhibits, so they do not fail the check.
        click.echo(f"Note : {strays} fichier(s) temporaire(s) ou étranger(s) dans le dépôt (écritures interrompues).")
    mb = report.bytes / (1024 * 1024)
    summary = (f"{report.checked} fichier(s) vérifié(s), {mb:.1f} Mo en {elapsed:.1f} s ; "
               f"{len(report.missing)} manquant(s), {len(report.altered)} altéré(s), "
               f"{len(report.orphans)} orphelin(s).")
    if not report.ok:
        click.echo("Dépôt des pièces NON intègre : " + summary, err=True)
        sys.exit(1)
    click.echo("Dépôt des pièces intègre : " + summary)


@evidence_cli.command("ocr")
@click.option("--due-only", is_flag=True, help="Ne reprend pas les lectures reportées (attente après échec).")
def evidence_ocr(due_only):
    """Lit le texte des pièces en attente, jusqu'à ce que la file soit vide."""
    from sqlalchemy import func

    from app.evidence.models import OcrJob
    from app.evidence.ocr import engine_status, work_queue

    ok, reason = engine_status(max_age=0)
    if not ok:
        click.echo(f"OCR indisponible ({reason}) : les images restent en attente ; installez "
                   "« tesseract-ocr tesseract-ocr-fra ».", err=True)
    counts = work_queue(ignore_schedule=not due_only)
    waiting = db.session.scalar(select(func.count(OcrJob.id)))
    db.session.rollback()
    click.echo(f"{counts.get('done', 0)} pièce(s) lue(s), {counts.get('unavailable', 0)} sans OCR disponible, "
               f"{counts.get('failed', 0) + counts.get('retry', 0)} en échec ; {waiting} en attente dans la file.")


cli_groups = [evidence_cli]
