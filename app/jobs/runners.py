"""What each kind of job does: the same export services as the immediate routes, with progress.

Access is checked again when the job runs (a role or a membership may have changed since it was
asked); the export is audited then, under its requester, exactly as an immediate one.
"""

from __future__ import annotations

from app.auth.permissions import can
from app.jobs.services import JobRefused, filters_from_params, register_kind


def _organisation(user):
    return user.organisation


def export_xlsx(job, user, params, progress):
    from app.exports import services

    identified = bool(params.get("identified"))
    if not can(user, "exports.identified" if identified else "exports.anonymised"):
        raise JobRefused("votre rôle ne permet plus cet export.")
    return services.export_workbook(_organisation(user), user, filters_from_params(params.get("filters")),
                                    params.get("q", ""), identified=identified,
                                    anonymised=bool(params.get("anonymised")), source="job", progress=progress)


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

    return services.export_pooled_workbook(_coalition(user, params), user, source="job", progress=progress)


def coalition_dossier(job, user, params, progress):
    from app.exports import services

    return services.export_pooled_dossier(_coalition(user, params), user, source="job", progress=progress)


def register() -> None:
    register_kind("export.xlsx", export_xlsx)
    register_kind("export.dossier", export_dossier)
    register_kind("coalition.xlsx", coalition_xlsx)
    register_kind("coalition.dossier", coalition_dossier)
