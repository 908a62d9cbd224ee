"""What each kind of job does: the same export services as the immediate routes, with progress.

Access is checked again when the job runs (a role or a membership may have changed since it was
asked); the export is audited then, under its requester, exactly as an immediate one.
"""

from __future__ import annotations

from contextlib import contextmanager

from app.auth.permissions import can
from app.jobs.services import JobRefused, Outcome, filters_from_params, register_kind


def _organisation(user):
    return user.organisation


def export_xlsx(job, user, params, progress):
    from app.exports import services

    identified = bool(params.get("identified"))
    if not can(user, "exports.identified" if identified else "exports.anonymised"):
        raise JobRefused("votre rôle ne permet plus cet export.")
    with _refused_if_too_large():
        return services.export_workbook(_organisation(user), user, filters_from_params(params.get("filters")),
                                        params.get("q", ""), identified=identified,
                                        anonymised=bool(params.get("anonymised")), source="job", progress=progress)


@contextmanager
def _refused_if_too_large():
    """More rows than Excel holds: the requester reads why, and no worker retries it."""
    from app.exports.xlsx import WorkbookTooLarge

    try:
        yield
    except WorkbookTooLarge as exc:
        raise JobRefused(str(exc)) from None


def export_dossier(job, user, params, progress):
    from app.exports import services

    if not can(user, "exports.anonymised"):
        raise JobRefused("votre rôle ne permet plus cet export.")
    return services.export_dossier(_organisation(user), user, filters_from_params(params.get("filters")),
                                   params.get("q", ""), anonymised=bool(params.get("anonymised")), source="job",
                                   progress=progress)


def _coalition(user, params):
    from app.coalitions import services as coalitions
    from app.coalitions.models import MEMBER

    coalition = coalitions.get(params.get("coalition", ""))
    if coalition is None or coalitions.membership_state(coalition, user.org_id) != MEMBER \
            or not can(user, "coalitions.view"):
        raise JobRefused("l'association n'est plus membre de cette coalition, ou votre rôle a changé.")
    if len(coalitions.member_orgs(coalition)) < 2:
        raise JobRefused("la coalition ne compte plus qu'une association : rien à mettre en commun.")
    return coalition


def coalition_xlsx(job, user, params, progress):
    from app.exports import services

    with _refused_if_too_large():
        return services.export_pooled_workbook(_coalition(user, params), user, source="job", progress=progress)


def coalition_dossier(job, user, params, progress):
    from app.exports import services

    return services.export_pooled_dossier(_coalition(user, params), user, source="job", progress=progress)


def import_cases(job, user, params, progress):
    """A confirmed web import too large for one request: the previewed file, checked again whole.
    Its rows commit with the job's DONE state (jobs.services.run), or not at all."""
    from flask import current_app

    from app.cases.importer import ImportRefused, import_file
    from app.cases.uploads import job_file
    from app.cases.views import IMPORT_CAPABILITY

    if not can(user, IMPORT_CAPABILITY):
        raise JobRefused("votre rôle ne permet plus d'importer des dossiers.")
    path = job_file(job.id, str(params.get("suffix") or ""))
    if not path.is_file():
        raise JobRefused("le fichier n'est plus disponible : envoyez-le à nouveau.")
    try:
        report = import_file(path, _organisation(user), user, max_bytes=current_app.config["MAX_IMPORT_BYTES"],
                             progress=progress)
    except ImportRefused as exc:
        # The association changed since the preview (a reference now taken…): nothing is written.
        # The message quotes cells of the file: it is cleared with the job after JOB_KEEP_HOURS.
        problems = [str(p) for p in exc.report.problems]
        more = f" (et {len(problems) - 5} autre(s))" if len(problems) > 5 else ""
        raise JobRefused("le fichier ne passe plus les vérifications, rien n'a été importé : "
                         + " ; ".join(problems[:5]) + more + ". Corrigez-le et envoyez-le à nouveau.") from None
    cases, events = report.cases, report.events
    message = (f"{cases} dossier{'s' if cases > 1 else ''} et {events} événement{'s' if events > 1 else ''} "
               f"importé{'s' if cases + events > 1 else ''}.")
    return Outcome(cases, message)


def _forget_import_file(job_id: int) -> None:
    from app.cases.uploads import forget_job_file

    forget_job_file(job_id)


def register() -> None:
    register_kind("export.xlsx", export_xlsx)
    register_kind("export.dossier", export_dossier)
    register_kind("coalition.xlsx", coalition_xlsx)
    register_kind("coalition.dossier", coalition_dossier)
    register_kind("import.cases", import_cases, on_end=_forget_import_file)
