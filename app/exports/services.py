"""What the exports do: select, build the bytes, record who exported what (audit), return a file.

Shared by the web views and the `flask exports …` commands. Every service takes an explicit
actor (None for the command line, which acts as the installation) and leaves the commit to
the caller.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import func, or_, select

from app.audit import services as audit
from app.cases import deadlines
from app.cases.models import Case
from app.cases.services import CaseFilters, filter_conditions
from app.core import departements
from app.core.clock import today as clock_today, utcnow
from app.exports import rows as rows_mod
from app.exports.docx import DossierCase, build_bordereau, build_dossier, validate_template
from app.exports.summary import (ANONYMISED, IDENTIFIED, PSEUDONYMISED, REMEDIES, Scope, Summary, SummaryBuilder,
                                 case_stats)
from app.exports.text import ascii_slug
from app.exports.xlsx import write_workbook
from app.extensions import db

BRIEF_DATA = Path(__file__).resolve().parent.parent / "data" / "brief.json"
MAX_TEMPLATE_BYTES = 5 * 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class ExportFile:
    content: bytes
    filename: str
    mimetype: str
    sha256: str
    rows: int


class TemplateRefused(ValueError):
    """The uploaded base document cannot be used (French reason)."""


def _file(content: bytes, filename: str, mimetype: str, rows: int) -> ExportFile:
    return ExportFile(content, filename, mimetype, hashlib.sha256(content).hexdigest(), rows)


def brief_texts() -> dict:
    """Boilerplate and legal references, read at each export so a lawyer's correction applies at once."""
    return json.loads(BRIEF_DATA.read_text(encoding="utf-8"))


def _rules() -> deadlines.Rules:
    return deadlines.Rules.from_config(current_app.config)


def _key() -> bytes:
    return rows_mod.pseudonym_key(current_app.config["SECRET_KEY"])


def locate_exhibit(sha256: str) -> Path | None:
    """Path of the exhibit's bytes, or None when the file is missing from the store."""
    try:
        from app.evidence.storage import StoreError, store

        try:
            path = store().path_for(sha256)
        except StoreError:
            return None
    except ImportError:  # pragma: no cover - before the evidence store existed
        root = Path(current_app.config["EXHIBIT_DIR"])
        path = root / sha256[:2] / sha256[2:4] / sha256
    return path if path.is_file() else None


def _audit_detail(filters: CaseFilters | None, q: str, source: str) -> dict:
    """Which filters were used; the search text is never recorded (it may be a name)."""
    detail: dict = {"source": source}
    if filters is not None:
        detail["filters"] = {k: (v.isoformat() if isinstance(v, date) else v)
                             for k, v in asdict(filters).items() if v}
        if q:
            detail["filters"]["q"] = True
    return detail


def describe_filters(filters: CaseFilters, q: str, labels: dict) -> list[str]:
    """French description of the filters for the file itself (search text left out: it may be a name)."""
    out = []
    if filters.prefecture:
        dep = departements.get(filters.prefecture)
        out.append(f"préfecture {dep.label if dep else filters.prefecture}")
    if filters.code:
        out.append(f"blocage {labels.get('blocage', {}).get(filters.code, filters.code)}")
    if filters.status:
        out.append(f"statut {labels.get('statut', {}).get(filters.status, filters.status)}")
    if filters.demarche:
        out.append(f"démarche {labels.get('demarche', {}).get(filters.demarche, filters.demarche)}")
    if filters.date_from:
        out.append(f"ouverts depuis le {filters.date_from.strftime('%d/%m/%Y')}")
    if filters.date_to:
        out.append(f"ouverts jusqu'au {filters.date_to.strftime('%d/%m/%Y')}")
    if q:
        out.append("recherche plein texte")
    return out


def selected_ids(org_id: int, filters: CaseFilters, q: str = "", *, identity: bool = False) -> list[int]:
    """Ids of the association's cases matching the search parameters, in creation order.
    `identity`: the text may match names (only for exports that show them)."""
    conditions = filter_conditions(org_id, filters)
    if q:
        conditions.append(Case.id.in_(_text_matches(org_id, q, filters, identity)))
    return rows_mod.case_ids(conditions)


def _text_matches(org_id: int, q: str, filters: CaseFilters, identity: bool) -> list[int]:
    try:
        from app.search.services import matching_case_ids
    except ImportError:
        matching_case_ids = None
    if matching_case_ids is not None:
        return list(matching_case_ids(org_id, q, filters, identity=identity))
    # Until the full-text index answers: reference or narrative containing the text.
    like = f"%{q.strip()[:200]}%"
    return list(db.session.scalars(select(Case.id).where(
        Case.org_id == org_id, or_(Case.reference.ilike(like), Case.narrative.ilike(like)))))


# --- brief and Télérecours zip ----------------------------------------------------------------

def _requete_input(case: Case, today: date):
    """The requête's facts: rows of the case (identified), its numbered pièces, the party and
    the routing computed on exactly those pièces."""
    from app.legal.french import Party
    from app.legal.requete import RequeteInput
    from app.legal.services import routing_for

    row = next(rows_mod.iter_case_rows([case.id], identified=True, key=_key()))
    exhibits = rows_mod.exhibit_rows(case.id, locate_exhibit)
    dep = departements.get(case.prefecture)
    rule_set = _rules()
    facts = deadlines.CaseFacts(status=row.status, titre_expiry=row.titre_expiry,
                                events=tuple(deadlines.TimelineFact(e.date, e.type) for e in row.events))
    person = case.person
    party = Party() if person is None else Party(
        first_name=person.first_name, last_name=person.last_name, civility=person.civility or "",
        birth_date=person.birth_date, birth_place=person.birth_place or "", nationality=person.nationality,
        address=person.address)
    return RequeteInput(
        case=row, party=party, exhibits=exhibits, labels=rows_mod.labels_for(case.org_id),
        tribunal=dep.tribunal_administratif if dep else "[À COMPLÉTER : tribunal]",
        prefet=dep.prefet if dep else "préfet [À COMPLÉTER]",
        routing=routing_for(case, today, proofs=exhibits),
        days_without_rights=deadlines.days_without_rights(facts, today, rule_set),
        # An API whose end is not recorded: the days without rights rest on its assumed validity.
        rights_estimated=any(span.estimated for span in deadlines.api_spans(facts, rule_set)),
    )


def template_path(org) -> Path:
    """The association's Word base, named by its id: two slugs with the same ASCII form
    (« demo-lyon » and « demo-lyon- ») once shared one file. A file left under the old slug
    name is moved on first use, unless another association's slug folds to the same name (then
    nobody can tell whose it is, and the admin uploads it again)."""
    from app.auth.models import Organisation

    folder = Path(current_app.config["TEMPLATE_DIR"])
    path = folder / f"org-{int(org.id)}.docx"
    legacy = folder / f"{ascii_slug(org.slug, 64)}.docx" if ascii_slug(org.slug, 64) else None
    if legacy is not None and not path.exists() and legacy.is_file():
        folded = ascii_slug(org.slug, 64)
        sharing = [s for s in db.session.scalars(select(Organisation.slug)) if ascii_slug(s, 64) == folded]
        if len(sharing) == 1:
            try:
                os.replace(legacy, path)
            except FileNotFoundError:  # moved meanwhile by another worker
                pass
    return path


def org_template(org) -> bytes | None:
    path = template_path(org)
    return path.read_bytes() if path.is_file() else None


def save_template(org, content: bytes, actor) -> None:
    """Keep the association's base document for its briefs. Raises TemplateRefused."""
    if not content:
        raise TemplateRefused("fichier vide.")
    if len(content) > MAX_TEMPLATE_BYTES:
        raise TemplateRefused(f"fichier trop volumineux (maximum {MAX_TEMPLATE_BYTES // (1024 * 1024)} Mo).")
    reason = validate_template(content)
    if reason:
        raise TemplateRefused(reason)
    path = template_path(org)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    os.replace(temp, path)
    audit.record("export.template", actor=actor, org_id=org.id, sha256=hashlib.sha256(content).hexdigest(),
                 size=len(content))


def remove_template(org, actor) -> bool:
    path = template_path(org)
    if not path.is_file():
        return False
    path.unlink()
    audit.record("export.template_removed", actor=actor, org_id=org.id)
    return True


def requete_bytes(case: Case, org, *, route: str | None = None, today: date, annexes: bool = True):
    """(docx bytes, route drafted, its RequeteInput) — shared by the brief export and the
    Télérecours bundle (which files the requête without annexes). Raises RouteRefused."""
    from app.legal.requete import build_requete, load_references, load_texts

    data = _requete_input(case, today)
    chosen = (route or "").strip().upper() or data.routing.route
    content = build_requete(data, route=chosen, texts=load_texts(), references=load_references(), today=today,
                            template=org_template(org), annexes=annexes)
    return content, chosen, data


def export_brief(case: Case, org, actor, *, route: str | None = None, source: str = "web",
                 today: date | None = None) -> ExportFile:
    """The Word requête of one case (already loaded with the organisation check), for the route
    its facts call for or the one asked. Raises RouteRefused (AUCUNE, unknown route)."""
    today = today or clock_today()
    content, chosen, data = requete_bytes(case, org, route=route, today=today)
    result = _file(content, f"requete_{chosen.lower()}_{ascii_slug(case.reference, 40) or case.id}.docx", DOCX,
                   len(data.exhibits))
    audit.record("export.brief", actor=actor, obj=case, org_id=case.org_id, sha256=result.sha256,
                 rows=len(data.case.events), exhibits=len(data.exhibits), source=source, route=chosen,
                 recommended=data.routing.route)
    return result


@dataclass
class BundleExport:
    """The Télérecours zip, on disk (its size grows with the pièces; memory does not)."""

    path: Path
    filename: str
    mimetype: str
    sha256: str
    size: int
    rows: int
    manifest: dict

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def _scratch_dir() -> Path:
    """Where bundles are written before being sent: DATA_DIR/tmp (not /tmp, which may be in memory)."""
    path = Path(current_app.config["DATA_DIR"]) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _soffice() -> str | None:
    """LibreOffice's binary: config SOFFICE when set ("" disables it), else found on PATH."""
    import shutil

    configured = current_app.config.get("SOFFICE")
    if configured is not None:
        return configured or None
    return shutil.which("soffice") or shutil.which("libreoffice")


def export_bundle(case: Case, org, actor, *, source: str = "web", today: date | None = None) -> BundleExport:
    """The Télérecours bundle of one case (already loaded with the organisation check): one PDF
    per pièce, the inventory with the standard pièces still to provide, the requête without
    annexes when the case has a route, and apart the manifest and the originals. Never refuses:
    a missing, altered or unconvertible pièce is listed with its reason. Audited with the zip's
    SHA-256; each pièce's custody log says « exported »."""
    from app.exports.bundle import DEFAULT_TIMEOUT, build_bundle
    from app.exports.pieces import missing_standard_pieces
    from app.legal.requete import RouteRefused

    today = today or clock_today()
    texts = brief_texts()
    exhibits = rows_mod.exhibit_rows(case.id, locate_exhibit)
    row = next(rows_mod.iter_case_rows([case.id], identified=False, key=_key()))
    missing = missing_standard_pieces(row, exhibits)
    bordereau = build_bordereau(case.reference, exhibits, texts=texts, today=today, missing=missing)
    slug = ascii_slug(case.reference, 40) or str(case.id)
    requete, note, route = None, "", None
    try:
        content, route, _ = requete_bytes(case, org, today=today, annexes=False)
        requete = (f"requete_{route.lower()}_{slug}.docx", content)
    except RouteRefused as exc:
        note = str(exc)
    scratch = _scratch_dir()
    fd, name = tempfile.mkstemp(dir=scratch, prefix="telerecours-", suffix=".zip")
    os.close(fd)
    output = Path(name)
    try:
        with tempfile.TemporaryDirectory(dir=scratch, prefix="telerecours-") as workdir:
            result = build_bundle(exhibits, bordereau, natures=texts["natures"], today=today, reference=case.reference,
                                  output=output, workdir=Path(workdir), requete=requete, requete_note=note,
                                  missing=missing, soffice=_soffice(),
                                  timeout=float(current_app.config.get("SOFFICE_TIMEOUT", DEFAULT_TIMEOUT)))
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    included = result.count("incluse")
    export = BundleExport(output, f"telerecours_{slug}.zip", "application/zip", result.sha256, result.size,
                          included, result.manifest)
    _custody_exported(case.id, result.sha256, actor)
    audit.record("export.exhibits_zip", actor=actor, obj=case, org_id=case.org_id, sha256=result.sha256,
                 rows=included, missing=result.count("manquante"), refused=result.count("refusee"),
                 altered=result.count("alteree"), to_provide=len(missing), route=route, source=source)
    return export


def _custody_exported(case_id: int, sha256: str, actor) -> None:
    try:
        from app.evidence.services import record_custody
    except ImportError:  # pragma: no cover - before the evidence services existed
        return
    from app.evidence.models import Exhibit

    for exhibit in db.session.scalars(select(Exhibit).where(Exhibit.case_id == case_id,
                                                            Exhibit.withdrawn_at.is_(None))):
        record_custody(exhibit, "exported", actor, detail=f"zip Télérecours sha256 {sha256}")


# --- workbook, dossier, dashboard ------------------------------------------------------------

def threshold() -> int:
    """Small-cell threshold of anonymised figures (config SMALL_CELL_THRESHOLD, 5 by default)."""
    return max(2, int(current_app.config.get("SMALL_CELL_THRESHOLD", 5)))


def official_figure() -> dict:
    """The Ministry's figure (app/data/brief.json) with the verification state of its source."""
    from app.legal.requete import load_references

    official = dict(brief_texts().get("official") or {})
    entry = load_references().get(official.get("reference", ""), {})
    official["verified"] = bool(entry.get("verified"))
    official["source_url"] = entry.get("source_url", "")
    return official


def statistics_ids(org_ids: list[int], filters: CaseFilters | None, q: str = "") -> tuple[list[int], int]:
    """(ids of the cases that may count in figures, number left out by their person's consent)."""
    conditions = filter_conditions(org_ids[0], filters) if filters is not None and len(org_ids) == 1 \
        else [Case.org_id.in_(org_ids)]
    if q and len(org_ids) == 1:
        conditions.append(Case.id.in_(_text_matches(org_ids[0], q, filters or CaseFilters(), False)))
    allowed = rows_mod.case_ids(conditions + [~rows_mod.statistics_excluded()])
    excluded = db.session.scalar(select(func.count(Case.id)).where(*conditions, rows_mod.statistics_excluded()))
    return allowed, excluded or 0


def _rows(ids: list[int], identified: bool, progress):
    """The rows of an export, reporting progress to a background job when there is one."""
    from app.jobs.services import counted

    return counted(rows_mod.iter_case_rows(ids, identified=identified, key=_key()), len(ids), progress)


def export_size(org_id: int, filters: CaseFilters, q: str = "") -> int:
    """How many cases an export of these parameters covers (to decide: now or in the background)."""
    return len(selected_ids(org_id, filters, q))


def refuse_identified(actor, org_id: int, filters: CaseFilters, q: str, *, kind: str = "xlsx") -> None:
    """A role without identities asked for them: leave a trace (the caller answers 403)."""
    audit.record("export.refused", actor=actor, org_id=org_id, kind=kind, identified=True,
                 **_audit_detail(filters, q, "web"))


def export_workbook(org, actor, filters: CaseFilters, q: str = "", *, identified: bool = False,
                    anonymised: bool = False, source: str = "web", now: datetime | None = None,
                    progress=None) -> ExportFile:
    """The coordinators' workbook of the selected cases: identified, pseudonymised (default
    without identities: exact dates) or anonymised (months, small counts hidden)."""
    now = now or utcnow()
    labels = rows_mod.labels_for(org.id)
    variant = IDENTIFIED if identified else ANONYMISED if anonymised else PSEUDONYMISED
    if identified:
        # The association's working list: every case; its Synthèse still leaves out the cases
        # whose consent excludes statistics (write_workbook reads CaseRow.statistics).
        ids, excluded = selected_ids(org.id, filters, q, identity=True), None
    else:
        ids, excluded = statistics_ids([org.id], filters, q)
    result = write_workbook(
        _rows(ids, identified, progress), variant=variant, labels=labels,
        today=now.date(), rules=_rules(), generated_at=now, filters=describe_filters(filters, q, labels),
        official=official_figure(), threshold=threshold() if anonymised else None,
        scope=Scope([org.name], len(ids), excluded or 0, []))
    export = _file(result.content, f"dossiers_{ascii_slug(org.slug, 30)}_{variant}_{now:%Y-%m-%d}.xlsx", XLSX,
                   result.cases)
    audit.record("export.xlsx", actor=actor, org_id=org.id, sha256=export.sha256, rows=result.cases,
                 events=result.events, identified=identified, variant=variant, **_audit_detail(filters, q, source))
    return export


def summary_for(org_id: int | list[int], filters: CaseFilters | None, q: str = "", *, today: date | None = None,
                keep_cases: int = 0, anonymised: bool = False,
                progress=None) -> tuple[Summary, list[DossierCase], Scope]:
    """The figures of the selected cases (anonymised rows only, consent respected), the first
    `keep_cases` lines of the pseudonymous case table, and what the figures cover."""
    today = today or clock_today()
    org_ids = org_id if isinstance(org_id, list) else [org_id]
    labels = rows_mod.labels_for(org_ids[0]) if len(org_ids) == 1 else rows_mod.labels_for(0)
    builder = SummaryBuilder(labels, official_figure(), today=today)
    rules = _rules()
    table: list[DossierCase] = []
    ids, excluded = statistics_ids(org_ids, filters, q)
    for row in _rows(ids, False, progress):
        stats = case_stats(row, today, rules)
        builder.add(stats)
        if len(table) < keep_cases:
            table.append(dossier_case(row, stats, labels))
    summary = builder.result(threshold=threshold() if anonymised else None)
    return summary, table, Scope([], len(ids), excluded, [])


def dossier_case(row, stats, labels) -> DossierCase:
    """One line of the pseudonymous case table (months only, no identity)."""
    primary = row.blocages[0] if row.blocages else ""
    outcome = "résolu" if stats.resolved else labels.get("statut", {}).get(row.status, row.status).lower()
    if stats.refere:
        outcome += " ; référé " + ("gagné" if stats.refere_won else "en attente" if stats.refere_pending
                                   else "perdu ou sans objet")
    if not stats.deposited:
        outcome += " ; jamais déposé"
    return DossierCase(
        row.pseudonym, row.prefecture, labels.get("demarche", {}).get(row.demarche, row.demarche),
        stats.titre, primary, stats.onset_month or "—", stats.days_blocked, stats.days_without_rights,
        ", ".join(code for code in REMEDIES if code in stats.tried) or "—", outcome)


def export_dossier(org, actor, filters: CaseFilters, q: str = "", *, anonymised: bool = False,
                   source: str = "web", now: datetime | None = None, progress=None) -> ExportFile:
    """The aggregated Word dossier: pseudonymised by default (exact counts traceable to the
    pseudonyms), anonymised on request (small counts hidden)."""
    from app.exports.charts import png_charts
    from app.exports.docx import DOSSIER_TABLE_LIMIT

    now = now or utcnow()
    # An anonymised dossier has no case table: its rows would let a reader recount hidden cells.
    summary, table, scope = summary_for(org.id, filters, q, today=now.date(),
                                        keep_cases=0 if anonymised else DOSSIER_TABLE_LIMIT, anonymised=anonymised,
                                        progress=progress)
    scope.org_names = [org.name]
    labels = rows_mod.labels_for(org.id)
    content = build_dossier(summary, table, png_charts(summary), org_name=org.name, generated_at=now,
                            filters=describe_filters(filters, q, labels), total_cases=summary.total, scope=scope)
    variant = ANONYMISED if anonymised else PSEUDONYMISED
    export = _file(content, f"dossier_collectif_{ascii_slug(org.slug, 30)}_{variant}_{now:%Y-%m-%d}.docx", DOCX,
                   summary.total)
    audit.record("export.dossier", actor=actor, org_id=org.id, sha256=export.sha256, rows=summary.total,
                 variant=variant, **_audit_detail(filters, q, source))
    return export


# --- a coalition's pooled files (always anonymised) -------------------------------------------

def _pooled(coalition, today: date, *, keep_cases: int = 0, progress=None):
    from app.coalitions.services import member_orgs

    orgs = member_orgs(coalition)
    org_ids = [o.id for o in orgs]
    summary, table, scope = summary_for(org_ids, None, today=today, keep_cases=keep_cases, anonymised=True,
                                        progress=progress)
    scope.org_names = [o.name for o in orgs]
    scope.contributions = contributions(orgs)
    return orgs, summary, scope


def contributions(orgs) -> list[tuple[str, int]]:
    """Each association's contribution: how many of its cases count (consent respected), one query."""
    counts = dict(db.session.execute(
        select(Case.org_id, func.count(Case.id))
        .where(Case.org_id.in_([o.id for o in orgs]), ~rows_mod.statistics_excluded())
        .group_by(Case.org_id)).all())
    return [(o.name, counts.get(o.id, 0)) for o in orgs]


def pooled_summary(coalition, today: date | None = None):
    """(member associations, anonymised Summary, Scope) of a coalition."""
    return _pooled(coalition, today or clock_today())


def export_pooled_workbook(coalition, actor, *, source: str = "web", now: datetime | None = None,
                           progress=None) -> ExportFile:
    """The coalition's workbook: every member's cases (consent respected) as anonymised rows —
    pseudonyms, months, no identity, narrative, reference or exhibit — and the pooled Synthèse."""
    from app.coalitions.services import member_orgs

    now = now or utcnow()
    orgs = member_orgs(coalition)
    ids, excluded = statistics_ids([o.id for o in orgs], None)
    result = write_workbook(
        _rows(ids, False, progress), variant=ANONYMISED,
        labels=rows_mod.labels_for(0), today=now.date(), rules=_rules(), generated_at=now,
        filters=[f"coalition {coalition.name} ({len(orgs)} associations)"], official=official_figure(),
        threshold=threshold(), scope=Scope([o.name for o in orgs], len(ids), excluded, contributions(orgs)))
    export = _file(result.content, f"coalition_{ascii_slug(coalition.slug, 30)}_anonymise_{now:%Y-%m-%d}.xlsx", XLSX,
                   result.cases)
    audit.record("export.coalition_xlsx", actor=actor, sha256=export.sha256, rows=result.cases,
                 coalition=coalition.slug, members=len(orgs), source=source)
    return export


def export_pooled_dossier(coalition, actor, *, source: str = "web", now: datetime | None = None,
                          progress=None) -> ExportFile:
    """The coalition's Word dossier: anonymised, each association's contribution named."""
    from app.exports.charts import png_charts

    now = now or utcnow()
    orgs, summary, scope = _pooled(coalition, now.date(), progress=progress)
    content = build_dossier(summary, [], png_charts(summary), org_name=f"Coalition {coalition.name}",
                            generated_at=now, filters=[f"{len(orgs)} associations membres"],
                            total_cases=summary.total, scope=scope, coalition=True)
    export = _file(content, f"dossier_coalition_{ascii_slug(coalition.slug, 30)}_{now:%Y-%m-%d}.docx", DOCX,
                   summary.total)
    audit.record("export.coalition_dossier", actor=actor, sha256=export.sha256, rows=summary.total,
                 coalition=coalition.slug, members=len(orgs), source=source)
    return export
