"""Coalition pages (settings, pooled dashboard and files) and the public /stats/<slug> page.

A coalition's pages answer 404 to anyone whose association is not a member, exactly as for a
coalition that does not exist. The public page needs no login and shows anonymised figures
only; it is rendered once per slug and kept for CACHE_SECONDS (and sent cacheable).
"""

from __future__ import annotations

import hashlib
import io
import threading
import time

from flask import (Blueprint, abort, copy_current_request_context, current_app, flash, g, make_response, redirect,
                   render_template, request,
                   send_file, url_for)
from flask_login import current_user
from sqlalchemy import select

from app.auth.models import Organisation
from app.auth.permissions import can
from app.coalitions import services
from app.coalitions.map import france_map_svg
from app.coalitions.models import INVITED, MEMBER
from app.core.clock import utcnow
from app.core.views import PUBLIC_ENDPOINTS
from app.exports import services as exports
from app.exports.charts import dashboard_charts
from app.exports.docx import format_value
from app.extensions import db
from app.jobs.services import submit, threshold as job_threshold

bp = Blueprint("coalitions", __name__, template_folder="templates")
CACHE_SECONDS = 300


def init_app(app) -> None:
    PUBLIC_ENDPOINTS.add("coalitions.public_stats")


def _require(capability: str) -> None:
    if not can(current_user, capability):
        abort(403)


def _member_coalition_or_404(slug: str):
    """The coalition, if the user's association is a member and the role may see pooled figures."""
    coalition = services.get(slug)
    if coalition is None or services.membership_state(coalition, current_user.org_id) != MEMBER:
        abort(404)
    _require("coalitions.view")
    return coalition


def _send(export):
    return send_file(io.BytesIO(export.content), mimetype=export.mimetype, as_attachment=True,
                     download_name=export.filename, max_age=0)


# --- settings ---------------------------------------------------------------------------------

@bp.route("/coalitions/")
def index():
    _require("coalitions.view")
    org_id = current_user.org_id
    rows = []
    for coalition in services.coalitions_of(org_id, states=(MEMBER, INVITED)):
        rows.append((coalition, services.membership_state(coalition, org_id), services.member_orgs(coalition)))
    own = services.publisher(current_user.organisation.slug)
    return render_template("coalitions/index.html", rows=rows, own=own, MEMBER=MEMBER, INVITED=INVITED)


def _manage(slug: str, action):
    coalition = services.get(slug)
    if coalition is None or services.membership_state(coalition, current_user.org_id) is None:
        abort(404)  # before the role check: a non-member learns nothing, not even that it exists
    _require("coalitions.manage")
    try:
        message = action(coalition)
    except services.CoalitionError as exc:
        db.session.rollback()
        flash(f"Impossible : {exc}", "error")
        return redirect(url_for("coalitions.index"))
    db.session.commit()
    _forget(slug)
    flash(message, "success")
    return redirect(url_for("coalitions.index"))


@bp.route("/coalitions/<slug>/accept", methods=["POST"])
def accept(slug: str):
    return _manage(slug, lambda c: (services.accept(c, current_user.org_id, current_user),
                                    f"L'association a rejoint « {c.name} ».")[1])


@bp.route("/coalitions/<slug>/leave", methods=["POST"])
def leave(slug: str):
    def action(coalition):
        if request.form.get("confirm") != "oui":
            raise services.CoalitionError("cochez la case de confirmation pour quitter la coalition.")
        services.leave(coalition, current_user.org_id, current_user)
        return (f"L'association a quitté « {coalition.name} » : ses dossiers ne comptent plus dans les chiffres "
                "communs.")
    return _manage(slug, action)


@bp.route("/coalitions/<slug>/invite", methods=["POST"])
def invite(slug: str):
    def action(coalition):
        wanted = (request.form.get("org") or "").strip().lower()[:64]
        org = db.session.scalar(select(Organisation).where(Organisation.slug == wanted)) if wanted else None
        if org is None:
            # Same answer whether the association exists or not, when it is not found by its exact id.
            raise services.CoalitionError("identifiant d'association inconnu : demandez-le à son administrateur.")
        services.invite(coalition, org, current_user)
        return f"Invitation envoyée : un·e administrateur·rice de « {org.name} » doit l'accepter."
    return _manage(slug, action)


@bp.route("/coalitions/<slug>/publish", methods=["POST"])
def publish(slug: str):
    def action(coalition):
        if services.membership_state(coalition, current_user.org_id) != MEMBER:
            raise services.CoalitionError("seule une association membre peut publier.")
        on = request.form.get("on") == "1"
        if on and len(services.member_orgs(coalition)) < 2:
            raise services.CoalitionError("une coalition d'une seule association ne met rien en commun : "
                                          "invitez une deuxième association avant de publier.")
        services.set_published(coalition.slug, on, current_user)
        return f"Page /stats/{coalition.slug} " + ("publiée." if on else "retirée.")
    return _manage(slug, action)


@bp.route("/stats/publish", methods=["POST"])
def publish_own():
    _require("coalitions.manage")
    on = request.form.get("on") == "1"
    slug = current_user.organisation.slug
    services.set_published(slug, on, current_user)
    db.session.commit()
    _forget(slug)
    flash(f"Page /stats/{slug} " + ("publiée." if on else "retirée."), "success")
    return redirect(url_for("coalitions.index"))


# --- pooled dashboard and files ----------------------------------------------------------------

@bp.route("/coalitions/<slug>/")
def dashboard(slug: str):
    coalition = _member_coalition_or_404(slug)
    orgs, summary, scope = exports.pooled_summary(coalition)
    return render_template("coalitions/dashboard.html", coalition=coalition, orgs=orgs, summary=summary,
                           scope=scope, charts=dashboard_charts(summary), zip=zip, fmt=format_value,
                           map_svg=france_map_svg(summary.by_departement, title="Dossiers par département",
                                                  threshold=summary.threshold or exports.threshold()))


@bp.route("/coalitions/<slug>/cases.xlsx")
def workbook(slug: str):
    return _pooled_file(slug, "coalition.xlsx", exports.export_pooled_workbook)


@bp.route("/coalitions/<slug>/dossier.docx")
def dossier(slug: str):
    return _pooled_file(slug, "coalition.dossier", exports.export_pooled_dossier)


def _pooled_file(slug: str, kind: str, export_function):
    """A pooled file: now when small, as a background job (303 to its progress) when large."""
    coalition = _member_coalition_or_404(slug)
    if len(services.member_orgs(coalition)) < 2:
        return _alone(coalition)
    size = _pooled_size(coalition)
    if size > job_threshold():
        return _in_background(kind, size, coalition)
    export = export_function(coalition, current_user)
    db.session.commit()
    return _send(export)


def _pooled_size(coalition) -> int:
    return sum(services.case_counts([o.id for o in services.member_orgs(coalition)]).values())


def _in_background(kind: str, size: int, coalition):
    job = submit(kind, current_user, total=size, coalition=coalition.slug)
    db.session.commit()
    return redirect(url_for("jobs.show", job_id=job.id), code=303)


def _alone(coalition):
    return render_template("coalitions/alone.html", coalition=coalition), 409


# --- the public page ---------------------------------------------------------------------------

_cache: dict[str, tuple[float, str, str, bytes]] = {}  # slug -> (expiry, key, etag, body)
_cache_lock = threading.Lock()
_refreshing: set[str] = set()  # slugs whose page is being rendered again in a background thread


def _forget(slug: str) -> None:
    with _cache_lock:
        _cache.pop(slug, None)


def _store(slug: str, key: str, body: bytes) -> tuple[float, str, str, bytes]:
    entry = (time.monotonic() + current_app.config.get("STATS_CACHE_SECONDS", CACHE_SECONDS), key,
             hashlib.sha256(body).hexdigest()[:32], body)
    with _cache_lock:
        _cache[slug] = entry
    return entry


def _refresh_later(slug: str, key: str) -> None:
    """Render the page again in a thread while visitors get the expired copy: the figures of a
    large coalition take seconds to compute, and nobody should wait for them. Started only when
    publication and membership are unchanged (the cache key), so a withdrawal still shows at once."""
    with _cache_lock:
        if slug in _refreshing:
            return
        _refreshing.add(slug)

    @copy_current_request_context
    def run() -> None:
        try:
            target = services.publisher(slug)
            if target is not None and target.published_at is not None:
                _store(slug, key, _render_public(target).encode())
        except Exception:  # noqa: BLE001 - the expired copy stays; the next visit tries again
            current_app.logger.exception("public page refresh failed")
        finally:
            db.session.remove()
            with _cache_lock:
                _refreshing.discard(slug)

    threading.Thread(target=run, name=f"constat-stats-{slug[:20]}", daemon=True).start()


@bp.route("/stats/<slug>")
def public_stats(slug: str):
    # Publication and membership are read at every request (two small queries), so withdrawing
    # the page or leaving the coalition shows at once; only the rendered figures are kept.
    target = services.publisher(slug[:64])
    if target is None or target.published_at is None:
        abort(404)
    key = f"{target.slug}|{target.published_at.isoformat()}|{','.join(map(str, target.org_ids))}"
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(target.slug)
    if cached is None or cached[1] != key:
        cached = _store(target.slug, key, _render_public(target).encode())
    elif cached[0] < now:
        _refresh_later(target.slug, key)
    _, _, etag, body = cached
    g.public_cacheable = True  # app/core/security.py leaves this page's Cache-Control alone
    response = make_response(body)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response.make_conditional(request)


def _render_public(target) -> str:
    from app.exports.summary import official_quote

    k = exports.threshold()
    summary, _, scope = exports.summary_for(target.org_ids, None, anonymised=True) if target.org_ids \
        else (None, None, None)
    enough = summary is not None and summary.total >= k
    return render_template(
        "coalitions/public.html", target=target, summary=summary if enough else None, threshold=k,
        charts=dashboard_charts(summary) if enough else [], zip=zip, fmt=format_value,
        map_svg=france_map_svg(summary.by_departement, title="Dossiers par département", threshold=k)
        if enough else None, generated_at=utcnow(), official=official_quote(exports.official_figure()),
        members=len(target.org_ids))
