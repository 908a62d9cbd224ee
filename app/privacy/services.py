"""People's rights: consent withdrawal, legal hold, data export (art. 15), erasure, retention.

Services take an explicit actor (None for the retention command), flush and leave the commit
to the caller. Audit records name the case and carry counts, never a personal value.
Exhibit files are deleted only after the commit (`purge_files`), so a rolled-back erasure
never loses a file its rows still point to.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import selectinload

from app.audit import services as audit
from app.auth.models import Organisation
from app.cases.models import Case, Event
from app.cases.services import enqueue_index
from app.cases.taxonomy import Taxonomy
from app.core.clock import today as clock_today
from app.core.clock import utcnow
from app.evidence.models import CustodyRecord, Exhibit, OcrJob
from app.extensions import db
from app.legal.codes import NATURES, OUTCOMES_BY_TYPE

ERASED = "[effacé]"
REASON_ERASURE = "effacement RGPD"
REASON_RETENTION = "durée de conservation échue"
# Exhibits withdrawn for these reasons have no file any more (or share one being deleted).
ANONYMISED_REASONS = (REASON_ERASURE, REASON_RETENTION)
PERSON_BLANKED = ("civility", "last_name", "first_name", "birth_place", "nationality", "numero_etranger",
                  "phone", "email", "address", "language")
RETENTION_MIN_DAYS, RETENTION_MAX_DAYS = 90, 3650
LEGAL_HOLD_REFUSAL = ("Effacement refusé : ce dossier est sous conservation pour procédure "
                      "(contentieux en cours). Levez d'abord la conservation, une fois la procédure terminée.")


class PrivacyError(ValueError):
    """A refused action, with a French message for the user."""


# --- consent and legal hold -----------------------------------------------------------------

def withdraw_consent(case: Case, withdrawn_on: date | None, actor, *, today: date | None = None) -> None:
    """Record that the person withdrew their consent on `withdrawn_on`. Raises PrivacyError."""
    today = today or clock_today()
    person = case.person
    if person is None or case.anonymised_at is not None:
        raise PrivacyError("Aucune personne n'est enregistrée sur ce dossier.")
    if person.consent_withdrawn_at is not None:
        raise PrivacyError("Le retrait du consentement est déjà enregistré.")
    if withdrawn_on is None:
        raise PrivacyError("Indiquez la date du retrait du consentement.")
    if withdrawn_on > today:
        raise PrivacyError("La date du retrait ne peut pas être dans le futur.")
    if person.consent_date is not None and withdrawn_on < person.consent_date:
        raise PrivacyError("La date du retrait ne peut pas précéder celle du consentement.")
    person.consent_withdrawn_at = withdrawn_on
    db.session.flush()
    # The date of a withdrawal is not identifying; the person's identity is not recorded.
    audit.record("consent.withdraw", actor=actor, obj=case, withdrawn_on=withdrawn_on.isoformat())


# A withdrawal recorded by mistake (wrong case, wrong date) can be undone by an admin this long after.
UNDO_WITHDRAWAL = timedelta(days=1)


def withdrawal_recorded_at(case: Case):
    """When the current withdrawal was recorded (the journal's time), or None."""
    from app.audit.models import AuditRecord

    return db.session.scalar(select(AuditRecord.at).where(
        AuditRecord.action == "consent.withdraw", AuditRecord.object_type == "case",
        AuditRecord.object_id == str(case.id)).order_by(AuditRecord.seq.desc()).limit(1))


def can_undo_withdrawal(case: Case, now: datetime | None = None) -> bool:
    person = case.person
    if person is None or person.consent_withdrawn_at is None or case.anonymised_at is not None:
        return False
    recorded = withdrawal_recorded_at(case)
    return recorded is not None and (now or utcnow()) - recorded <= UNDO_WITHDRAWAL


def undo_withdrawal(case: Case, actor, *, now: datetime | None = None) -> None:
    """Cancel a withdrawal recorded less than a day ago (a mistake). Raises PrivacyError."""
    if case.person is None or case.person.consent_withdrawn_at is None:
        raise PrivacyError("Aucun retrait du consentement n'est enregistré sur ce dossier.")
    if not can_undo_withdrawal(case, now):
        raise PrivacyError("Le retrait a été enregistré il y a plus d'un jour : il ne peut plus être annulé.")
    withdrawn_on = case.person.consent_withdrawn_at
    case.person.consent_withdrawn_at = None
    db.session.flush()
    audit.record("consent.withdraw_undo", actor=actor, obj=case, withdrawn_on=withdrawn_on.isoformat())


def set_legal_hold(case: Case, hold: bool, actor) -> bool:
    """Put a case under legal hold (a court case: never erased nor anonymised) or lift it.
    Returns True if the flag changed."""
    if case.legal_hold == hold:
        return False
    case.legal_hold = hold
    db.session.flush()
    audit.record("case.legal_hold", actor=actor, obj=case, hold=hold)
    return True


# --- export (GDPR art. 15) ------------------------------------------------------------------

def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _exhibit_store():
    from app.evidence.storage import store

    return store()


def person_export(case: Case, actor, *, now: datetime | None = None) -> tuple[bytes, str]:
    """A zip of the person's data on this case: JSON files (person, case, timeline, exhibits)
    and the exhibit files as stored. Returns (zip bytes, their SHA-256); audited."""
    now = now or utcnow()
    taxonomy = Taxonomy(case.org_id)
    person = case.person
    person_data = None if person is None else {
        "civilite": person.civility, "nom": person.last_name, "prenom": person.first_name,
        "date_de_naissance": _iso(person.birth_date), "lieu_de_naissance": person.birth_place,
        "nationalite": person.nationality, "numero_etranger": person.numero_etranger,
        "telephone": person.phone, "courriel": person.email, "adresse": person.address,
        "langue": person.language,
        "consentement": {
            "date": _iso(person.consent_date), "recueilli_par": person.consent_collected_by,
            "suivi": person.consent_followup, "contentieux": person.consent_litigation,
            "statistiques": person.consent_statistics, "retire_le": _iso(person.consent_withdrawn_at),
        },
        "anonymise_le": _iso(person.anonymised_at),
    }
    case_data = {
        "reference": case.reference, "association": db.session.get(Organisation, case.org_id).name,
        "prefecture": case.prefecture, "demarche": taxonomy.label("demarche", case.demarche),
        "statut": taxonomy.label("statut", case.status),
        "blocages": [taxonomy.label("blocage", c) for c in case.blocages],
        "consequences": [taxonomy.label("consequence", c) for c in case.consequences],
        "titre_actuel": case.titre_actuel, "expiration_du_titre": _iso(case.titre_expiry),
        "titre_demande": case.titre_demande, "numero_de_demande_anef": case.anef_number,
        "premiere_tentative": _iso(case.first_attempt), "ouvert_le": _iso(case.opened_on),
        "recit": case.narrative, "conservation_pour_procedure": case.legal_hold,
    }
    events = [{"date": _iso(e.date), "type": taxonomy.label("evenement", e.type),
               "issue": OUTCOMES_BY_TYPE.get(e.type, {}).get(e.outcome, e.outcome or ""),
               "description": e.description, "reference": e.reference}
              for e in case.events]
    exhibits = db.session.scalars(select(Exhibit).where(Exhibit.case_id == case.id)
                                  .order_by(Exhibit.number, Exhibit.id)).all()
    files, exhibit_data = [], []
    store = _exhibit_store()
    for exhibit in exhibits:
        path = store.path_for(exhibit.sha256)
        name = f"pieces/piece-{exhibit.number:02d}-{exhibit.sha256[:12]}.{exhibit.extension or 'bin'}"
        present = path.is_file()
        if present:
            files.append((name, path))
        exhibit_data.append({
            "numero": exhibit.number, "nom_d_origine": exhibit.original_name, "description": exhibit.description,
            "nature": NATURES.get(exhibit.nature, exhibit.nature or ""),
            "type": exhibit.mime, "taille": exhibit.size, "sha256": exhibit.sha256,
            "capture_le": _iso(exhibit.captured_at), "ajoutee_le": _iso(exhibit.added_at),
            "retiree_le": _iso(exhibit.withdrawn_at), "motif_du_retrait": exhibit.withdrawn_reason,
            "texte_reconnu": exhibit.ocr_text, "fichier": name if present else None,
        })
    buffer = io.BytesIO()
    stamp = now.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = compress
            archive.writestr(info, data)

        def add_json(name: str, value) -> None:
            add(name, json.dumps(value, ensure_ascii=False, indent=2).encode())

        add("LISEZMOI.txt", README_EXPORT.format(reference=case.reference, when=now.strftime("%d/%m/%Y %H:%M UTC"),
                                                 files=len(files)).encode())
        add_json("personne.json", person_data)
        add_json("dossier.json", case_data)
        add_json("chronologie.json", events)
        add_json("pieces.json", exhibit_data)
        for name, path in files:
            # Images and PDFs are already compressed: store them as they are.
            add(name, path.read_bytes(), zipfile.ZIP_STORED)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    audit.record("person.export", actor=actor, obj=case, sha256=digest, exhibits=len(files),
                 events=len(events))
    return data, digest


README_EXPORT = """Données personnelles — dossier {reference}
Export réalisé le {when} au titre du droit d'accès (article 15 du RGPD).

personne.json     votre identité, vos coordonnées et votre consentement
dossier.json      votre démarche, les blocages constatés et le récit
chronologie.json  les événements datés du dossier
pieces.json       la liste des pièces (captures, courriers…) avec leur empreinte SHA-256
pieces/           les {files} fichier(s) des pièces, tels qu'ils ont été reçus

Personal data — case {reference}. Export made under the right of access (GDPR article 15).
The JSON files hold your identity and consent, your case, its timeline and the list of
exhibits; the pieces/ folder holds the exhibit files as received.
"""


# --- erasure and anonymisation ---------------------------------------------------------------

@dataclass
class AnonymisationPlan:
    """What anonymising one case removes: counts only, so it can be printed and audited."""

    case_id: int
    reference: str
    last_activity: datetime | None = None
    person: bool = False
    narrative: bool = False
    events: int = 0
    exhibits: int = 0

    def describe(self) -> str:
        parts = ["identité effacée" if self.person else "pas d'identité enregistrée"]
        if self.narrative:
            parts.append("récit remplacé")
        if self.events:
            parts.append(f"{self.events} description(s) d'événement remplacée(s)")
        if self.exhibits:
            parts.append(f"{self.exhibits} pièce(s) retirée(s) et fichier(s) supprimé(s)")
        return ", ".join(parts)


@dataclass
class AnonymisationResult:
    plans: list[AnonymisationPlan] = field(default_factory=list)
    # Digests whose files no case needs any more: delete them after the commit.
    files_to_purge: set[str] = field(default_factory=set)


def plan_anonymisation(case: Case) -> AnonymisationPlan:
    exhibits = db.session.scalar(select(func.count(Exhibit.id)).where(
        Exhibit.case_id == case.id, Exhibit.withdrawn_reason.not_in(ANONYMISED_REASONS))) or 0
    return AnonymisationPlan(
        case_id=case.id, reference=case.reference, person=case.person is not None,
        narrative=bool(case.narrative and case.narrative != ERASED),
        events=sum(1 for e in case.events if (e.description and e.description != ERASED) or e.reference),
        exhibits=exhibits,
    )


def _anonymise(case: Case, reason: str, now: datetime) -> tuple[AnonymisationPlan, set[str]]:
    """Remove the personal data of one case; return its plan and the digests it released."""
    plan = plan_anonymisation(case)
    person = case.person
    if person is not None:
        for name in PERSON_BLANKED:
            setattr(person, name, "")
        person.birth_date = None
        person.anonymised_at = now
    if case.narrative:
        case.narrative = ERASED
    case.anef_number = ""
    case.anonymised_at = now
    for event in case.events:
        if event.description:
            event.description = ERASED
        # CCC tickets and LRAR numbers lead back to the person.
        event.reference = ""
    released = set()
    exhibits = db.session.scalars(select(Exhibit).where(Exhibit.case_id == case.id)).all()
    for exhibit in exhibits:
        if exhibit.withdrawn_reason in ANONYMISED_REASONS:
            continue
        exhibit.withdrawn_at = exhibit.withdrawn_at or now
        exhibit.withdrawn_reason = reason
        exhibit.ocr_text = ""
        exhibit.original_name = ""
        if exhibit.description:
            exhibit.description = ERASED
        db.session.add(CustodyRecord(exhibit_id=exhibit.id, action="withdrawn", at=now, detail=reason))
        released.add(exhibit.sha256)
    if exhibits:
        ids = [e.id for e in exhibits]
        db.session.execute(delete(OcrJob).where(OcrJob.exhibit_id.in_(ids)))
        # The custody log is append-only, but a withdrawal reason typed earlier may name the
        # person: erasure (a legal obligation) blanks those texts, keeping action and date.
        db.session.execute(update(CustodyRecord)
                           .where(CustodyRecord.exhibit_id.in_(ids), CustodyRecord.action == "withdrawn",
                                  CustodyRecord.detail.not_in([reason]))
                           .values(detail=ERASED).execution_options(synchronize_session=False))
    db.session.flush()
    enqueue_index(case.id)
    return plan, released


def _still_needed(digests: set[str]) -> set[str]:
    """Digests that an exhibit of some case still needs (same bytes filed twice)."""
    if not digests:
        return set()
    return set(db.session.scalars(select(Exhibit.sha256).where(
        Exhibit.sha256.in_(digests), Exhibit.withdrawn_reason.not_in(ANONYMISED_REASONS))).all())


def erase_person(case: Case, actor, *, now: datetime | None = None) -> AnonymisationResult:
    """Erase the personal data of a case on the person's request (GDPR art. 17).

    Refused (PrivacyError) when the case is under legal hold. The case, its codes, dates and
    exhibit rows stay (withdrawn) so statistics and the chain of custody remain whole."""
    now = now or utcnow()
    if case.legal_hold:
        raise PrivacyError(LEGAL_HOLD_REFUSAL)
    plan, released = _anonymise(case, REASON_ERASURE, now)
    audit.record("person.erase", actor=actor, obj=case, events=plan.events, exhibits=plan.exhibits,
                 person=plan.person)
    return AnonymisationResult([plan], released - _still_needed(released))


def purge_files(digests: set[str]) -> int:
    """After the commit: delete the files no exhibit needs any more. Returns how many went."""
    from app.evidence import thumbnails

    still = _still_needed(set(digests))
    store, removed = _exhibit_store(), 0
    for sha256 in sorted(set(digests) - still):
        if store.exists(sha256):
            store.remove(sha256)
            removed += 1
        # Thumbnails and previews are copies of the picture: they go with it.
        for variant in thumbnails.SIZES:
            thumbnails.cached_path(sha256, variant).unlink(missing_ok=True)
    return removed


# --- retention -------------------------------------------------------------------------------

def _last_activity_query(org_id: int):
    """(case, last activity) for the association's cases not yet anonymised."""
    last_event = (select(Event.case_id, func.max(Event.created_at).label("at"))
                  .group_by(Event.case_id).subquery())
    last_exhibit = (select(Exhibit.case_id, func.max(Exhibit.added_at).label("at"))
                    .group_by(Exhibit.case_id).subquery())
    # The latest of three dates: SQLite spells it max(a, b, c), PostgreSQL greatest(a, b, c).
    args = (Case.updated_at, func.coalesce(last_event.c.at, Case.updated_at),
            func.coalesce(last_exhibit.c.at, Case.updated_at))
    activity = func.max(*args) if db.engine.dialect.name == "sqlite" else func.greatest(*args)
    return (select(Case, activity.label("last_activity"))
            .outerjoin(last_event, last_event.c.case_id == Case.id)
            .outerjoin(last_exhibit, last_exhibit.c.case_id == Case.id)
            .where(Case.org_id == org_id, Case.anonymised_at.is_(None))
            .order_by(Case.reference)), activity


@dataclass
class RetentionPlan:
    org_id: int
    retention_days: int
    now: datetime
    cutoff: datetime
    due: list[AnonymisationPlan] = field(default_factory=list)
    held: list[AnonymisationPlan] = field(default_factory=list)  # due but under legal hold


def plan_retention(org, *, now: datetime | None = None) -> RetentionPlan:
    """Cases of the association whose last activity (case saved, event or exhibit added) is
    older than its retention period. Legal-hold cases are listed apart and never touched."""
    now = now or utcnow()
    cutoff = now - timedelta(days=org.retention_days)
    query, activity = _last_activity_query(org.id)
    rows = db.session.execute(query.where(activity < cutoff)
                              .options(selectinload(Case.events), selectinload(Case.person))).all()
    plan = RetentionPlan(org.id, org.retention_days, now, cutoff)
    for case, last in rows:
        item = plan_anonymisation(case)
        item.last_activity = _as_datetime(last)
        (plan.held if case.legal_hold else plan.due).append(item)
    return plan


def _as_datetime(value) -> datetime | None:
    # SQLite returns max() over DateTime columns as text.
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def apply_retention(plan: RetentionPlan) -> AnonymisationResult:
    """Anonymise exactly the cases the plan lists as due (the same list a dry run prints)."""
    result = AnonymisationResult()
    released: set[str] = set()
    for item in plan.due:
        case = db.session.get(Case, item.case_id)
        if case is None or case.legal_hold or case.anonymised_at is not None:
            continue
        done, freed = _anonymise(case, REASON_RETENTION, plan.now)
        done.last_activity = item.last_activity
        released |= freed
        result.plans.append(done)
        audit.record("case.anonymise", org_id=case.org_id, obj=case, reason="retention",
                     retention_days=plan.retention_days, events=done.events, exhibits=done.exhibits)
    result.files_to_purge = released - _still_needed(released)
    return result


def set_retention_days(org, days: int, actor) -> bool:
    """Change the association's retention period (days). Raises PrivacyError if out of range."""
    if not RETENTION_MIN_DAYS <= days <= RETENTION_MAX_DAYS:
        raise PrivacyError(f"La durée doit être comprise entre {RETENTION_MIN_DAYS} et {RETENTION_MAX_DAYS} jours.")
    if org.retention_days == days:
        return False
    previous, org.retention_days = org.retention_days, days
    db.session.flush()
    audit.record("org.retention", actor=actor, obj=org, org_id=org.id, previous=previous, days=days)
    return True
