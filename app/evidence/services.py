"""What the evidence domain does: add, withdraw and renumber exhibits, keep their custody, verify the store.

Services take an explicit actor (None for the command line), flush, and leave the commit to
the caller. The file is always written before its row is flushed, so a crash between the two
leaves an orphan file (found by verify) and never a row without its file.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.audit import services as audit
from app.cases.models import Case, Event
from app.cases.services import clean_text, enqueue_index
from app.core.clock import utcnow
from app.evidence import sniff
from app.evidence.models import CustodyRecord, Exhibit, OcrJob
from app.evidence.storage import StoreError, hash_file, store
from app.extensions import db
from app.legal.codes import NATURES, default_nature

CUSTODY_ACTIONS = frozenset({"added", "viewed", "downloaded", "exported", "renumbered", "requalified", "withdrawn"})
DESCRIPTION_LIMIT = 5000
REASON_LIMIT = 1000
EARLIEST_CAPTURE = datetime(1990, 1, 1)

OCR_LABELS = {
    "pending": "lecture en cours",
    "done": "texte lu",
    "unavailable": "OCR indisponible",
    "failed": "lecture impossible",
    "none": "sans texte à lire",
}


class ExhibitRefused(Exception):
    """The file or its details are refused; str(exc) is the French reason. Nothing was stored."""


class ExhibitTooLarge(ExhibitRefused):
    """Over MAX_EXHIBIT_BYTES: the web answers 413."""


@dataclass
class AddResult:
    """The exhibit, and whether it was already in the case (same bytes)."""

    exhibit: Exhibit
    duplicate: bool = False


def _max_bytes() -> int:
    from flask import current_app

    return int(current_app.config["MAX_EXHIBIT_BYTES"])


def read_limited(stream: BinaryIO | bytes, max_bytes: int) -> bytes:
    """The stream's bytes, reading at most one byte past the limit."""
    if isinstance(stream, bytes | bytearray):
        data = bytes(stream)
    else:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ExhibitTooLarge(f"Le fichier dépasse la taille maximale autorisée "
                              f"({max_bytes // (1024 * 1024)} Mo) : rien n'a été enregistré.")
    return data


def parse_captured_at(value: str | date | datetime | None) -> datetime | None:
    """Accepts a date, a datetime, or text: AAAA-MM-JJ, AAAA-MM-JJTHH:MM, JJ/MM/AAAA [HH:MM]."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y",
                "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ExhibitRefused("Date de capture illisible : indiquez-la au format JJ/MM/AAAA.")


def add_exhibit(case: Case, stream: BinaryIO | bytes, filename: str | None, actor, *, description: str = "",
                captured_at: str | date | datetime | None = None, event_id: int | str | None = None,
                max_bytes: int | None = None, nature: str | None = None) -> AddResult:
    """Check a file, store its bytes and record it as the case's next exhibit.

    `nature` is a code of app.legal.codes.NATURES (what the pièce is, as the bordereau names it);
    blank → guessed from the sniffed type. Returns AddResult(exhibit, duplicate); same bytes
    already in the case → the existing exhibit with duplicate=True (its nature unchanged).
    Raises ExhibitRefused (ExhibitTooLarge for size) with a French reason.
    """
    nature = check_nature(nature)
    max_bytes = max_bytes or _max_bytes()
    data = read_limited(stream, max_bytes)
    try:
        info = sniff.inspect(data, filename, max_bytes=max_bytes)
    except sniff.Refused as exc:
        raise ExhibitRefused(str(exc)) from None
    description = clean_text(description)
    if len(description) > DESCRIPTION_LIMIT:
        raise ExhibitRefused(f"La description est limitée à {DESCRIPTION_LIMIT} caractères.")
    captured = parse_captured_at(captured_at) or info.exif_taken_at
    if captured is not None and not (EARLIEST_CAPTURE <= captured <= utcnow() + timedelta(days=1)):
        raise ExhibitRefused("La date de capture ne peut pas être dans le futur ni avant 1990.")
    event = _event_of(case, event_id)

    sha256 = hashlib.sha256(data).hexdigest()
    existing = db.session.scalar(select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.sha256 == sha256))
    if existing is not None:
        if existing.withdrawn_at is not None:
            raise ExhibitRefused(f"Ce fichier a déjà été versé à ce dossier (pièce n° {existing.number}) puis "
                                 "retiré : il n'est pas ajouté une seconde fois.")
        return AddResult(existing, duplicate=True)

    # The file first: if anything below fails, the bytes stay as an orphan that verify reports.
    try:
        store().put(data)
    except (OSError, StoreError) as exc:
        # A full or read-only disk, or a shared store whose mount is missing: nothing is recorded.
        from flask import current_app

        current_app.logger.warning("exhibit store refused a write: %s", type(exc).__name__)
        raise ExhibitRefused("Le dépôt des pièces n'accepte aucun fichier pour le moment (disque plein, en "
                             "lecture seule ou dépôt partagé absent) : rien n'a été enregistré. Réessayez "
                             "plus tard et prévenez l'administration.") from None
    # Serialise numbering per case (row lock on PostgreSQL; SQLite has one writer anyway).
    db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    last = db.session.scalar(select(func.max(Exhibit.number)).where(Exhibit.case_id == case.id)) or 0
    readable_now = info.text is not None
    exhibit = Exhibit(
        case_id=case.id, event_id=event.id if event else None, number=last + 1, sha256=sha256, size=len(data),
        mime=info.mime, extension=info.extension, original_name=info.clean_name, description=description,
        captured_at=captured, added_by_id=actor.id if actor is not None else None, added_at=utcnow(),
        withdrawn_reason="", ocr_status="done" if readable_now else "pending",
        ocr_text=clean_text(info.text) if readable_now else "", nature=nature or default_nature(info.mime),
    )
    db.session.add(exhibit)
    db.session.flush()
    record_custody(exhibit, "added", actor, detail=f"sha256 {sha256}, {len(data)} octets, {info.mime}")
    if not readable_now:
        db.session.add(OcrJob(exhibit_id=exhibit.id, next_attempt_at=utcnow()))
    enqueue_index(case.id)
    audit.record("exhibit.add", actor=actor, obj=exhibit, org_id=case.org_id, case_id=case.id,
                 number=exhibit.number, sha256=sha256, size=len(data), mime=info.mime)
    db.session.flush()
    return AddResult(exhibit, duplicate=False)


def check_nature(nature: str | None) -> str:
    """The nature code, upper-cased; "" for « from the file's type ». Raises ExhibitRefused."""
    code = (nature or "").strip().upper()
    if code and code not in NATURES:
        raise ExhibitRefused(f"Nature de pièce inconnue : « {code[:20]} ». Choisissez parmi : "
                             f"{', '.join(NATURES)}.")
    return code


def nature_label(exhibit: Exhibit) -> str:
    """What the pièce is, in French (older rows without a nature: from their type)."""
    return NATURES.get(exhibit.nature or default_nature(exhibit.mime or ""), exhibit.nature)


def _event_of(case: Case, event_id) -> Event | None:
    if event_id in (None, "", 0, "0"):
        return None
    try:
        event_id = int(event_id)
    except (TypeError, ValueError):
        raise ExhibitRefused("Événement de la chronologie inconnu.") from None
    event = db.session.scalar(select(Event).where(Event.id == event_id, Event.case_id == case.id))
    if event is None:
        raise ExhibitRefused("Événement de la chronologie inconnu.")
    return event


def record_custody(exhibit: Exhibit, action: str, actor, detail: str = "") -> CustodyRecord:
    """Append one entry to the exhibit's chain of custody (never updated, never deleted)."""
    if action not in CUSTODY_ACTIONS:
        raise ValueError(f"unknown custody action {action!r}")
    entry = CustodyRecord(exhibit_id=exhibit.id, action=action, actor_id=actor.id if actor is not None else None,
                          at=utcnow(), detail=detail[:2000])
    db.session.add(entry)
    return entry


def custody_of(exhibit: Exhibit) -> list[CustodyRecord]:
    return list(db.session.scalars(select(CustodyRecord).where(CustodyRecord.exhibit_id == exhibit.id)
                                   .order_by(CustodyRecord.at, CustodyRecord.id)))


def withdraw_exhibit(exhibit: Exhibit, reason: str, actor) -> Exhibit:
    """Soft delete: the exhibit leaves the list and the bordereau; its bytes and custody stay."""
    reason = clean_text(reason)
    if not reason:
        raise ExhibitRefused("Indiquez pourquoi la pièce est retirée.")
    if len(reason) > REASON_LIMIT:
        raise ExhibitRefused(f"Le motif est limité à {REASON_LIMIT} caractères.")
    if exhibit.withdrawn_at is not None:
        raise ExhibitRefused("Cette pièce est déjà retirée.")
    exhibit.withdrawn_at = utcnow()
    exhibit.withdrawn_reason = reason
    record_custody(exhibit, "withdrawn", actor, detail=reason)
    enqueue_index(exhibit.case_id)
    audit.record("exhibit.withdraw", actor=actor, obj=exhibit, org_id=exhibit.case.org_id,
                 case_id=exhibit.case_id, number=exhibit.number)
    db.session.flush()
    return exhibit


def active_exhibits(case: Case | int) -> list[Exhibit]:
    """The case's exhibits not withdrawn, by pièce n° (who added them and their event loaded too)."""
    case_id = case if isinstance(case, int) else case.id
    return list(db.session.scalars(select(Exhibit).where(Exhibit.case_id == case_id, Exhibit.withdrawn_at.is_(None))
                                   .options(selectinload(Exhibit.added_by), selectinload(Exhibit.event))
                                   .order_by(Exhibit.number, Exhibit.id)))


def withdrawn_exhibits(case: Case) -> list[Exhibit]:
    return list(db.session.scalars(select(Exhibit).where(Exhibit.case_id == case.id,
                                                         Exhibit.withdrawn_at.is_not(None))
                                   .order_by(Exhibit.withdrawn_at)))


def renumber(case: Case, ordered_ids: list[int], actor) -> int:
    """Give the active exhibits the numbers 1…n in the given order; return how many changed.

    The list must name every active exhibit exactly once. Withdrawn exhibits keep their old number.
    """
    exhibits = {e.id: e for e in active_exhibits(case)}
    if sorted(ordered_ids) != sorted(exhibits) or len(set(ordered_ids)) != len(ordered_ids):
        raise ExhibitRefused("La nouvelle numérotation doit reprendre chaque pièce du dossier une seule fois.")
    changed = 0
    for position, exhibit_id in enumerate(ordered_ids, start=1):
        exhibit = exhibits[exhibit_id]
        if exhibit.number != position:
            record_custody(exhibit, "renumbered", actor, detail=f"pièce n° {exhibit.number} → n° {position}")
            exhibit.number = position
            changed += 1
    if changed:
        audit.record("exhibit.renumber", actor=actor, obj=case, case_id=case.id, changed=changed)
        db.session.flush()
    return changed


def set_natures(case: Case, natures: dict[int, str], actor) -> int:
    """Change what some active exhibits are ({exhibit id: nature code}); return how many changed.

    Validates every code before changing anything; each change goes to the exhibit's custody.
    """
    exhibits = {e.id: e for e in active_exhibits(case)}
    wanted = {}
    for exhibit_id, code in natures.items():
        if exhibit_id not in exhibits:
            raise ExhibitRefused("Pièce inconnue dans ce dossier.")
        code = check_nature(code)
        if code:
            wanted[exhibit_id] = code
    changed = 0
    for exhibit_id, code in wanted.items():
        exhibit = exhibits[exhibit_id]
        if exhibit.nature == code:
            continue
        record_custody(exhibit, "requalified", actor,
                       detail=f"nature : {nature_label(exhibit)} → {NATURES[code]}")
        exhibit.nature = code
        changed += 1
    if changed:
        audit.record("exhibit.requalify", actor=actor, obj=case, case_id=case.id, changed=changed)
        db.session.flush()
    return changed


def order_from_positions(case: Case, positions: dict[int, str]) -> list[int]:
    """Turn the form's wanted positions ({exhibit id: "3"}) into an ordered list of ids.

    Ties and blanks keep the current order, so a lawyer only types the numbers that move.
    """
    current = active_exhibits(case)
    keyed = []
    for index, exhibit in enumerate(current):
        raw = (positions.get(exhibit.id) or "").strip()
        try:
            wanted = float(raw.replace(",", ".")) if raw else float(exhibit.number)
        except ValueError:
            raise ExhibitRefused(f"Numéro invalide pour la pièce n° {exhibit.number}.") from None
        # Moving to n puts the exhibit before whatever currently holds n.
        keyed.append((wanted, 0 if raw and wanted != exhibit.number else 1, index, exhibit.id))
    return [item[3] for item in sorted(keyed)]


# --- verification ------------------------------------------------------------------------------

@dataclass
class StoredProblem:
    sha256: str
    kind: str  # "missing" | "altered" | "orphan"
    exhibits: list[tuple[str, int]] = field(default_factory=list)  # (case reference, pièce n°)
    detail: str = ""


@dataclass
class VerifyReport:
    """What verify found: files checked, bytes hashed, and each problem."""

    checked: int = 0
    bytes: int = 0
    missing: list[StoredProblem] = field(default_factory=list)
    altered: list[StoredProblem] = field(default_factory=list)
    orphans: list[StoredProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered or self.orphans)

    def problems(self) -> list[StoredProblem]:
        return self.missing + self.altered + self.orphans


def verify_all(workers: int = 2) -> VerifyReport:
    """Re-hash every stored exhibit; report missing, altered (digest or size) and orphan files."""
    expected: dict[str, tuple[int, list[tuple[str, int]]]] = {}
    rows = db.session.execute(select(Exhibit.sha256, Exhibit.size, Case.reference, Exhibit.number)
                              .join(Case, Case.id == Exhibit.case_id).order_by(Case.reference, Exhibit.number))
    for sha256, size, reference, number in rows:
        expected.setdefault(sha256, (size, []))[1].append((reference, number))
    exhibit_store = store()
    on_disk = dict(exhibit_store.iter_files())
    report = VerifyReport()

    def check(sha256: str):
        try:
            return sha256, hash_file(on_disk[sha256])
        except OSError as exc:
            return sha256, exc

    present = [sha for sha in expected if sha in on_disk]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        # hashlib releases the GIL on large buffers, so two threads use both cores.
        for sha256, outcome in pool.map(check, present):
            size, refs = expected[sha256]
            report.checked += 1
            if isinstance(outcome, OSError):
                report.missing.append(StoredProblem(sha256, "missing", refs, "illisible"))
                continue
            actual, actual_size = outcome
            report.bytes += actual_size
            if actual != sha256 or actual_size != size:
                report.altered.append(StoredProblem(sha256, "altered", refs,
                                                    f"empreinte {actual[:12]}…, {actual_size} octets"))
    for sha256, (_size, refs) in expected.items():
        if sha256 not in on_disk:
            report.missing.append(StoredProblem(sha256, "missing", refs))
    for sha256, path in on_disk.items():
        if sha256 not in expected:
            report.orphans.append(StoredProblem(sha256, "orphan", [], str(path)))
    return report


# --- display helpers ---------------------------------------------------------------------------

def ocr_label(exhibit: Exhibit, engine_available: bool = True) -> str:
    """French status; an image still waiting while the engine is missing says so at once."""
    if exhibit.ocr_status == "pending" and not engine_available and exhibit.mime.startswith("image/"):
        return OCR_LABELS["unavailable"]
    return OCR_LABELS.get(exhibit.ocr_status, exhibit.ocr_status)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} o"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Ko".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")
