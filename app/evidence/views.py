"""Exhibit routes: upload, download, thumbnails and preview, the exhibit's page, withdraw, renumber
(and change what the pièces are)."""

from __future__ import annotations

import hashlib
import io

from flask import (Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app.audit import services as audit
from app.auth.permissions import can
from app.cases.models import Event
from app.cases.services import get_case_or_404
from app.cases.taxonomy import Taxonomy
from app.core import hooks, workers
from app.evidence import ocr, services, sniff, thumbnails
from app.evidence.models import Exhibit
from app.evidence.services import ExhibitRefused, ExhibitTooLarge
from app.evidence.storage import store
from app.extensions import db
from app.legal.codes import NATURES
from app.privacy.masking import redactor

bp = Blueprint("evidence", __name__, template_folder="templates")

# Exhibit bytes are never rendered by the browser as a page, even if a check were fooled.
SANDBOX_CSP = "sandbox; default-src 'none'"
ACCEPT = "image/*,application/pdf,.txt,.eml,.heic"


def require(capability: str) -> None:
    if not can(current_user, capability):
        abort(403)


def _exhibit_or_404(exhibit_id: int) -> Exhibit:
    """The exhibit if its case belongs to the user's association (404 otherwise, as if missing)."""
    exhibit = db.session.get(Exhibit, exhibit_id)
    if exhibit is None:
        abort(404)
    get_case_or_404(exhibit.case_id, current_user)
    if exhibit.withdrawn_at is not None and not can(current_user, "exhibits.manage"):
        abort(404)
    return exhibit


def _file_size(storage) -> int:
    stream = storage.stream
    position = stream.tell()
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(position)
    return size


@bp.route("/cases/<int:case_id>/exhibits", methods=["POST"])
def upload(case_id: int):
    case = get_case_or_404(case_id, current_user)
    require("exhibits.add")
    files = [f for f in request.files.getlist("file") if f and (f.filename or _file_size(f))]
    description = request.form.get("description", "")
    captured_at = request.form.get("captured_at", "")
    event_id = request.form.get("event_id", "")
    nature = request.form.get("nature", "")[:40]
    typed = {"description": description, "captured_at": captured_at, "event_id": event_id, "nature": nature}
    if not files:
        return _refused(case, ["Choisissez au moins un fichier à ajouter."], missing_file=True, **typed)
    try:
        services.check_nature(nature)
    except ExhibitRefused as exc:
        return _refused(case, [str(exc)], **typed)
    # Per-file limit, checked before anything is stored (the request limit is several files' worth).
    limit = current_app.config["MAX_EXHIBIT_BYTES"]
    if any(_file_size(f) > limit for f in files):
        abort(413)
    added, duplicates, refusals = [], [], []
    for storage in files:
        name = sniff.clean_filename(storage.filename)
        try:
            result = services.add_exhibit(case, storage.stream, storage.filename, current_user,
                                          description=description, captured_at=captured_at or None,
                                          event_id=event_id or None, max_bytes=limit, nature=nature or None)
        except ExhibitTooLarge:
            db.session.rollback()
            abort(413)
        except ExhibitRefused as exc:
            refusals.append(f"« {name} » refusé : {exc}")
            continue
        (duplicates if result.duplicate else added).append(result.exhibit)
    if not added and not duplicates:
        db.session.rollback()
        return _refused(case, refusals, **typed)
    db.session.commit()
    for exhibit in added:
        flash(f"Pièce n° {exhibit.number} ajoutée : « {exhibit.original_name} ».", "success")
    for exhibit in duplicates:
        flash(f"Ce fichier est déjà dans le dossier (pièce n° {exhibit.number}) : il n'a pas été ajouté deux fois.",
              "warning")
    for message in refusals:
        flash(message + " Rien n'a été enregistré pour ce fichier.", "error")
    return redirect(url_for("cases.show_case", case_id=case.id, _anchor="pieces"))


def _refused(case, reasons: list[str], *, description: str, captured_at: str, event_id: str, nature: str,
             missing_file: bool = False):
    """Nothing stored: say why, and offer the form again with what was typed. No file at all is
    not a refused pièce: the page says what is missing instead."""
    return render_template("evidence/refused.html", case=case, reasons=reasons, description=description,
                           missing_file=missing_file,
                           captured_at=captured_at, event_id=event_id, nature=nature, natures=NATURES,
                           events=_events(case), accept=ACCEPT, taxonomy=Taxonomy(case.org_id),
                           max_mb=_max_mb()), 422


def _events(case) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.date, Event.id)))


def _max_mb() -> int:
    return current_app.config["MAX_EXHIBIT_BYTES"] // (1024 * 1024)


def _download_name(exhibit: Exhibit) -> str:
    stem = exhibit.original_name.rsplit(".", 1)[0] if "." in exhibit.original_name else exhibit.original_name
    return f"piece-{exhibit.number:02d}-{stem[:80] or 'fichier'}.{exhibit.extension}"


def _sandboxed(response):
    response.headers["Content-Security-Policy"] = SANDBOX_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@bp.route("/exhibits/<int:exhibit_id>")
def download(exhibit_id: int):
    exhibit = _exhibit_or_404(exhibit_id)
    require("exhibits.download")
    path = store().path_for(exhibit.sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return _integrity_error("Le fichier de cette pièce est introuvable dans le dépôt.")
    # Never hand over bytes that no longer match the recorded fingerprint.
    if hashlib.sha256(data).hexdigest() != exhibit.sha256:
        return _integrity_error("Le fichier conservé ne correspond plus à son empreinte SHA-256 : il a été altéré.")
    services.record_custody(exhibit, "downloaded", current_user)
    audit.record("exhibit.download", actor=current_user, obj=exhibit, org_id=current_user.org_id,
                 case_id=exhibit.case_id, sha256=exhibit.sha256)
    db.session.commit()
    response = send_file(io.BytesIO(data), mimetype=exhibit.mime, as_attachment=True,
                         download_name=_download_name(exhibit), etag=exhibit.sha256, conditional=False,
                         max_age=0)
    return _sandboxed(response)


def _integrity_error(message: str):
    current_app.logger.error("exhibit integrity failure on download")
    return render_template("errors/error.html", code=500, title="Pièce altérée ou manquante",
                           message=message + " Prévenez l'administration (commande « evidence verify »)."), 500


@bp.route("/exhibits/<int:exhibit_id>/<any(thumb, preview):variant>.png")
def picture(exhibit_id: int, variant: str):
    exhibit = _exhibit_or_404(exhibit_id)
    require("exhibits.download")
    path = thumbnails.get(exhibit.sha256, exhibit.mime, variant)
    if path is None:
        abort(404)
    # Small files: read at once, so no file handle outlives the request.
    return _sandboxed(send_file(io.BytesIO(path.read_bytes()), mimetype="image/png",
                                etag=f"{exhibit.sha256}-{variant}", max_age=0))


@bp.route("/exhibits/<int:exhibit_id>/fiche")
def show(exhibit_id: int):
    exhibit = _exhibit_or_404(exhibit_id)
    require("exhibits.download")
    case = get_case_or_404(exhibit.case_id, current_user)
    services.record_custody(exhibit, "viewed", current_user)
    db.session.commit()
    return render_template("evidence/show.html", exhibit=exhibit, case=case, custody=services.custody_of(exhibit),
                           taxonomy=Taxonomy(case.org_id), h=services)


@bp.route("/exhibits/<int:exhibit_id>/withdraw", methods=["POST"])
def withdraw(exhibit_id: int):
    exhibit = _exhibit_or_404(exhibit_id)
    require("exhibits.manage")
    try:
        services.withdraw_exhibit(exhibit, request.form.get("reason", ""), current_user)
    except ExhibitRefused as exc:
        db.session.rollback()
        flash(f"La pièce n'a pas été retirée : {exc}", "error")
        return redirect(url_for("cases.show_case", case_id=exhibit.case_id, _anchor="pieces"))
    db.session.commit()
    flash(f"Pièce n° {exhibit.number} retirée du dossier ; elle reste conservée avec son historique.", "success")
    return redirect(url_for("cases.show_case", case_id=exhibit.case_id, _anchor="pieces"))


@bp.route("/cases/<int:case_id>/exhibits/order", methods=["POST"])
def renumber(case_id: int):
    case = get_case_or_404(case_id, current_user)
    require("exhibits.manage")
    positions, natures = {}, {}
    for key, value in request.form.items():
        if key.startswith("position-") and key[9:].isdigit():
            positions[int(key[9:])] = value[:12]
        elif key.startswith("nature-") and key[7:].isdigit():
            natures[int(key[7:])] = value[:40]
    try:
        requalified = services.set_natures(case, natures, current_user)
        changed = services.renumber(case, services.order_from_positions(case, positions), current_user)
    except ExhibitRefused as exc:
        db.session.rollback()
        flash(f"Les pièces n'ont pas été modifiées : {exc}", "error")
        return redirect(url_for("cases.show_case", case_id=case.id, _anchor="pieces"))
    db.session.commit()
    messages = []
    if changed:
        messages.append(f"Pièces renumérotées ({changed} numéro{'s' if changed > 1 else ''} "
                        f"modifié{'s' if changed > 1 else ''}).")
    if requalified:
        messages.append(f"Nature modifiée pour {requalified} pièce{'s' if requalified > 1 else ''}.")
    flash(" ".join(messages) or "Numérotation inchangée.", "success")
    return redirect(url_for("cases.show_case", case_id=case.id, _anchor="pieces"))


def render_section(case) -> Markup:
    """The case page's « Pièces » section: upload form and the list of exhibits."""
    return Markup(render_template(  # noqa: S704 - rendered by Jinja with autoescape
        "evidence/section.html", case=case, exhibits=services.active_exhibits(case),
        withdrawn=services.withdrawn_exhibits(case) if can(current_user, "exhibits.manage") else [],
        events=_events(case), taxonomy=Taxonomy(case.org_id), accept=ACCEPT, max_mb=_max_mb(),
        h=services, can_render=thumbnails.can_render, ocr_available=ocr.engine_status()[0],
        description="", captured_at="", event_id="", nature="", natures=NATURES,
        # Descriptions and file names are free text: masked for roles without identity.view.
        redact=redactor(case, can(current_user, "identity.view"))))


def init_app(app: Flask) -> None:
    workers.register("ocr", ocr.tick, 2.0)
    from app.evidence.demo import seed_demo_exhibits

    hooks.connect("demo_seeded", seed_demo_exhibits)
    sections = app.extensions.setdefault("case_sections", [])
    if render_section not in sections:
        sections.append(render_section)
