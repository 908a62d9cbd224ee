"""« Échéances »: the association's deadlines across its cases, who follows them, the e-mail
digests and the calendar feeds.

The deadlines themselves are computed per case by app/cases (deadlines.py, pure, with the
routing's dates) and stored in `case_deadlines` whenever a case changes and once a day
(`refresh_stale_urgencies`); everything here reads those rows with one query, so the page, the
CLI, the digests and the feeds agree and stay fast at 10,000 cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case as sql_case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.audit import services as audit
from app.auth.models import Organisation, Role, User
from app.cases.deadlines import KIND_LABELS, kind_label
from app.cases.models import Case
from app.cases.services import refresh_stale_urgencies
from app.core.clock import utcnow
from app.deadlines import calendar
from app.deadlines.mail import (DigestLine, MailRefused, MailUnavailable, SmtpSettings, SmtpTransport,
                                digest_message)
from app.deadlines.models import CaseDeadline, DigestSend, NotifiedDeadline
from app.extensions import db

HORIZONS = (7, 30, 90)
DEFAULT_HORIZON = 90
PER_PAGE = 100
FOLLOW_ME, FOLLOW_NOBODY = "moi", "aucun"
DIGESTS = {"daily": "Chaque jour", "weekly": "Chaque semaine", "off": "Jamais"}
# Days ahead a digest looks: a weekly one must reach past the next one.
DIGEST_HORIZON = {"daily": 7, "weekly": 14}
WEEKLY_EVERY = 7
# A claim older than this is from a run that died mid-send: a later run may take it over.
STALE_CLAIM = timedelta(minutes=30)


@dataclass(frozen=True)
class DeadlineRow:
    """One deadline as the lists show it: the case by its reference, never the person."""

    case_id: int
    reference: str
    kind: str
    date: date
    action: str
    volunteer: str = ""  # display names of the members who follow the case
    lawyer: str = ""
    unassigned: bool = False

    @property
    def label(self) -> str:
        return kind_label(self.kind)

    def days_from(self, today: date) -> int:
        return (self.date - today).days

    def as_json(self, today: date) -> dict:
        return {"reference": self.reference, "date": self.date.isoformat(), "kind": self.kind,
                "kind_label": self.label, "action": self.action, "overdue": self.date < today,
                "case_id": self.case_id}


@dataclass
class DeadlineFilters:
    days: int = DEFAULT_HORIZON  # coming deadlines up to today + days; overdue ones always
    kind: str = ""
    follower: str = ""  # "", FOLLOW_ME, FOLLOW_NOBODY or a member's id


_Volunteer, _Lawyer = aliased(User), aliased(User)


def _unassigned():
    """Nobody active follows the case (a deactivated member follows nothing)."""
    return and_(or_(Case.volunteer_id.is_(None), _Volunteer.active.is_(False)),
                or_(Case.lawyer_id.is_(None), _Lawyer.active.is_(False)))


def _followed_by(user_id: int):
    return or_(Case.volunteer_id == user_id, Case.lawyer_id == user_id)


def _base(org_id: int):
    return (select(CaseDeadline.case_id, Case.reference, CaseDeadline.kind, CaseDeadline.date, CaseDeadline.action,
                   func.coalesce(func.nullif(_Volunteer.full_name, ""), _Volunteer.email),
                   func.coalesce(func.nullif(_Lawyer.full_name, ""), _Lawyer.email),
                   _unassigned())
            .join(Case, Case.id == CaseDeadline.case_id)
            .outerjoin(_Volunteer, _Volunteer.id == Case.volunteer_id)
            .outerjoin(_Lawyer, _Lawyer.id == Case.lawyer_id)
            .where(CaseDeadline.org_id == org_id, Case.org_id == org_id))


def _rows(query) -> list[DeadlineRow]:
    return [DeadlineRow(case_id, reference, kind, day, action, volunteer or "", lawyer or "", bool(unassigned))
            for case_id, reference, kind, day, action, volunteer, lawyer, unassigned in db.session.execute(query)]


def _filtered(org_id: int, today: date, filters: DeadlineFilters, viewer: User | None):
    query = _base(org_id).where(CaseDeadline.date <= today + timedelta(days=filters.days))
    if filters.kind:
        query = query.where(CaseDeadline.kind == filters.kind)
    if filters.follower == FOLLOW_ME and viewer is not None:
        query = query.where(_followed_by(viewer.id))
    elif filters.follower == FOLLOW_NOBODY:
        query = query.where(_unassigned())
    elif filters.follower.isdigit():
        query = query.where(_followed_by(int(filters.follower)))
    return query


def list_deadlines(org_id: int, today: date, filters: DeadlineFilters, viewer: User | None = None,
                   page: int = 1, per_page: int | None = PER_PAGE) -> tuple[list[DeadlineRow], int]:
    """Overdue and coming deadlines of the association, soonest first (overdue ones are the oldest
    dates). Returns (rows of the page, total); per_page=None gives them all."""
    query = _filtered(org_id, today, filters, viewer)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    query = query.order_by(CaseDeadline.date, Case.reference, CaseDeadline.kind)
    if per_page is not None:
        query = query.offset((page - 1) * per_page).limit(per_page)
    return _rows(query), total


@dataclass
class KindCount:
    kind: str
    overdue: int = 0
    coming: int = 0

    @property
    def label(self) -> str:
        return kind_label(self.kind)


def counts_by_kind(org_id: int, today: date, days: int = DEFAULT_HORIZON, follower: str = "",
                   viewer: User | None = None) -> list[KindCount]:
    """Overdue and coming (within `days`) deadlines of the association per kind, in KIND_LABELS
    order, for the cases `follower` selects (as in DeadlineFilters) — the « Échéances » page
    and the dashboard."""
    rows = _filtered(org_id, today, DeadlineFilters(days=days, follower=follower), viewer).subquery()
    late = func.sum(sql_case((rows.c.date < today, 1), else_=0))
    found = {kind: KindCount(kind, int(overdue or 0), int(total - (overdue or 0))) for kind, total, overdue
             in db.session.execute(select(rows.c.kind, func.count(), late).group_by(rows.c.kind))}
    return [found[k] for k in [*KIND_LABELS, *sorted(set(found) - set(KIND_LABELS))] if k in found]


def recipient_rows(user: User, today: date, days: int | None = None) -> list[DeadlineRow]:
    """The deadlines of the cases `user` follows — and, for the association's admins, of the
    cases nobody follows — overdue and up to today + days (all when None), soonest first."""
    who = _followed_by(user.id)
    if user.role == Role.ADMIN:
        who = or_(who, _unassigned())
    query = _base(user.org_id).where(who)
    if days is not None:
        query = query.where(CaseDeadline.date <= today + timedelta(days=days))
    return _rows(query.order_by(CaseDeadline.date, Case.reference, CaseDeadline.kind))


def refresh(org_id: int, today: date) -> None:
    """Bring the stored deadlines of the association to `today` (no-op when already done)."""
    refresh_stale_urgencies(org_id, today, commit=True)  # a commit per batch: short write transactions


# --- calendar feeds ----------------------------------------------------------------------------------

def calendar_token(user: User, secret: str, create: bool = True) -> str | None:
    """The user's current feed token, creating the key the first time (unless `create` is False);
    None once revoked."""
    if user.calendar_key is None and create:
        user.calendar_key = calendar.new_key()
        audit.record("calendar.create", actor=user, obj=user)
    return calendar.token_for(user.id, user.calendar_key, secret) if user.calendar_key else None


def regenerate_calendar(user: User) -> None:
    """A new feed address; the previous one answers 404 from now on."""
    user.calendar_key = calendar.new_key()
    audit.record("calendar.regenerate", actor=user, obj=user)


def revoke_calendar(user: User) -> None:
    user.calendar_key = ""
    audit.record("calendar.revoke", actor=user, obj=user)


def user_for_token(token: str, secret: str) -> User | None:
    """The active user whose current feed token this is; None for anything else (same answer
    for a malformed, unknown, revoked or another user's token)."""
    user_id = calendar.user_id_of(token)
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or not user.active or not calendar.token_matches(token, user.id, user.calendar_key, secret):
        return None
    return user


def calendar_feed(user: User, today: date, base_url: str, now: datetime | None = None) -> bytes:
    """The iCalendar feed of the user's deadlines (as in their digest, without horizon). Audited
    by user and count: the token itself is never recorded."""
    refresh(user.org_id, today)
    rows = recipient_rows(user, today)
    events = [calendar.CalendarEvent(
        uid=f"{row.case_id}-{row.kind}-{row.date:%Y%m%d}@constat", day=row.date,
        summary=f"{row.reference} : {row.label}", description=f"{row.action}\n{base_url}/cases/{row.case_id}",
        url=f"{base_url}/cases/{row.case_id}") for row in rows]
    audit.record("calendar.feed", actor=user, obj=user, events=len(events))
    return calendar.ics(events, now or utcnow())


def set_digest(user: User, frequency: str) -> None:
    if frequency not in DIGESTS:
        raise ValueError(frequency)
    if user.digest != frequency:
        user.digest = frequency
        audit.record("digest.settings", actor=user, obj=user, frequency=frequency)


# --- digests ------------------------------------------------------------------------------------------

@dataclass
class NotifyReport:
    """What a `deadlines notify` run did; `unavailable` says why it stopped early (SMTP)."""

    sent: list[tuple[str, int]] = field(default_factory=list)  # (address, deadlines) per digest
    planned: list[tuple[str, int]] = field(default_factory=list)  # dry run: what would be sent
    already: int = 0  # digest of the day already sent (or being sent by another run)
    nothing: int = 0  # no deadline to tell
    not_due: int = 0  # weekly digest sent less than a week ago
    no_email: int = 0
    refused: list[str] = field(default_factory=list)
    unavailable: str | None = None
    left: int = 0  # digests not sent because the server became unavailable: next run


def _digest_due(user: User, last_sent: date | None, today: date) -> bool:
    if user.digest == "weekly":
        return last_sent is None or (today - last_sent).days >= WEEKLY_EVERY
    return user.digest == "daily"


def _claim(user: User, today: date) -> DigestSend | None:
    """Take the (user, today) slot, committed before any mail leaves; None if it is taken."""
    row = db.session.scalar(select(DigestSend).where(DigestSend.user_id == user.id, DigestSend.day == today))
    now = utcnow()
    if row is not None:
        if row.state == "sent" or now - row.claimed_at < STALE_CLAIM:
            return None
        row.claimed_at = now  # a run died mid-send: take the slot over
    else:
        row = DigestSend(user_id=user.id, day=today, state="sending", claimed_at=now)
        db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # another run claimed it between our read and our write
        db.session.rollback()
        return None
    return row


def _release(claim: DigestSend) -> None:
    db.session.execute(delete(DigestSend).where(DigestSend.id == claim.id))
    db.session.commit()


def _digest_lines(user: User, today: date, horizon: int, base_url: str) -> list[DigestLine]:
    """Overdue deadlines and those within the horizon (reminders), and — up to DEFAULT_HORIZON —
    those not told to this user before: a challenge window two months away is told the day it opens."""
    known = {(case_id, kind, day) for case_id, kind, day in db.session.execute(
        select(NotifiedDeadline.case_id, NotifiedDeadline.kind, NotifiedDeadline.date)
        .where(NotifiedDeadline.user_id == user.id, NotifiedDeadline.date >= today))}
    limit = today + timedelta(days=horizon)
    lines = []
    for row in recipient_rows(user, today, DEFAULT_HORIZON):
        new = (row.case_id, row.kind, row.date) not in known
        if row.date <= limit or new:
            lines.append(DigestLine(row.case_id, row.date, row.reference, row.kind, row.action,
                                    f"{base_url}/cases/{row.case_id}", row.unassigned, new and row.date >= today))
    return lines


def _remember(user: User, lines: list[DigestLine], today: date) -> None:
    """Record the coming deadlines told to the user (in the transaction that marks the digest sent)."""
    known = {(case_id, kind, day) for case_id, kind, day in db.session.execute(
        select(NotifiedDeadline.case_id, NotifiedDeadline.kind, NotifiedDeadline.date)
        .where(NotifiedDeadline.user_id == user.id, NotifiedDeadline.date >= today))}
    for line in lines:
        key = (line.case_id, line.kind, line.day)
        if line.day >= today and key not in known:
            known.add(key)
            db.session.add(NotifiedDeadline(user_id=user.id, case_id=line.case_id, kind=line.kind, date=line.day,
                                            first_sent_on=today))


def notify(today: date, *, settings: SmtpSettings | None, base_url: str, dry_run: bool = False,
           transport: Callable[[SmtpSettings], SmtpTransport] = SmtpTransport) -> NotifyReport:
    """Send each active member the digest of the deadlines of the cases they follow (admins also
    those nobody follows), daily or weekly as they chose in « Mon compte ». At most one digest per
    user and day, even across concurrent runs: the day is claimed (committed) before sending and
    marked sent after; a failed send releases it so the next run retries. Without `settings`
    (no SMTP_HOST) nothing is sent (the dry run still lists what would be)."""
    report = NotifyReport()
    if settings is None and not dry_run:
        report.unavailable = ("SMTP_HOST n'est pas configuré : aucun courriel envoyé (voir la configuration "
                              "SMTP dans le README).")
        return report
    for org_id in db.session.scalars(select(Organisation.id).order_by(Organisation.id)).all():
        refresh(org_id, today)
    last_sent = dict(db.session.execute(select(DigestSend.user_id, func.max(DigestSend.day))
                                        .where(DigestSend.state == "sent").group_by(DigestSend.user_id)).all())
    # Sent today, or being sent by a run still alive (a claim left by a dead run is taken over).
    sent_today = set(db.session.scalars(select(DigestSend.user_id).where(
        DigestSend.day == today, or_(DigestSend.state == "sent", DigestSend.claimed_at > utcnow() - STALE_CLAIM))))
    plan: list[tuple[User, list[DigestLine], int]] = []
    for user in db.session.scalars(select(User).where(User.active, User.digest != "off").order_by(User.id)):
        if user.id in sent_today:
            report.already += 1
            continue
        if not _digest_due(user, last_sent.get(user.id), today):
            report.not_due += 1
            continue
        horizon = DIGEST_HORIZON.get(user.digest, DIGEST_HORIZON["daily"])
        lines = _digest_lines(user, today, horizon, base_url)
        if not lines:
            report.nothing += 1
            continue
        if not (user.email or "").strip() or "@" not in user.email:
            report.no_email += 1
            continue
        plan.append((user, lines, horizon))
    if dry_run:
        report.planned = [(user.email, len(lines)) for user, lines, _ in plan]
        return report
    if not plan:
        return report
    try:
        with transport(settings) as smtp:
            for position, (user, lines, horizon) in enumerate(plan):
                claim = _claim(user, today)
                if claim is None:
                    report.already += 1
                    continue
                message = digest_message(user.email, settings.sender, lines, today, horizon, base_url)
                try:
                    smtp.send(message)
                except MailRefused:
                    _release(claim)
                    report.refused.append(user.email)
                    continue
                except MailUnavailable as exc:
                    _release(claim)
                    report.unavailable, report.left = str(exc), len(plan) - position
                    return report
                claim.state, claim.sent_at, claim.items = "sent", utcnow(), len(lines)
                _remember(user, lines, today)
                audit.record("deadlines.digest", obj=user, org_id=user.org_id, deadlines=len(lines))
                db.session.commit()
                report.sent.append((user.email, len(lines)))
    except MailUnavailable as exc:  # could not even connect: nothing claimed, nothing lost
        report.unavailable, report.left = str(exc), len(plan)
    return report
