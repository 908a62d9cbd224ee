"""Accounts: password hashing (argon2id), authentication with per-account throttling,
two-factor authentication (TOTP and recovery codes), password changes and account management."""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import io
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import qrcode

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, func, or_, select, update

from app.audit import services as audit
from app.auth.models import Organisation, Role, User
from app.core.clock import utcnow
from app.core.security import decrypt_secret, encrypt_secret, needs_reencryption
from app.extensions import db

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this keeps the timing of "unknown e-mail" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("constat-dummy-password")

MIN_PASSWORD = 12
MAX_PASSWORD = 256  # checked before hashing: argon2 on megabytes is a denial of service
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"


class AccountError(ValueError):
    """A refusal with a French message for the user."""


def password_problem(password: str) -> str | None:
    """French reason why a password is refused, or None."""
    if len(password) > MAX_PASSWORD:
        return f"Le mot de passe ne doit pas dépasser {MAX_PASSWORD} caractères."
    if len(password) < MIN_PASSWORD:
        return f"Le mot de passe doit contenir au moins {MIN_PASSWORD} caractères."
    if password.lower() in _common_passwords():
        return "Ce mot de passe est trop courant ; choisissez-en un autre (une phrase, par exemple)."
    return None


_COMMON: set[str] | None = None


def _common_passwords() -> set[str]:
    global _COMMON
    if _COMMON is None:
        _COMMON = {line.strip().lower() for line in COMMON_PASSWORDS_FILE.read_text().splitlines()
                   if line.strip() and not line.startswith("#")}
    return _COMMON


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def create_organisation(slug: str, name: str, ref_prefix: str | None = None) -> Organisation:
    slug = slug.strip().lower()
    if not slug or not slug.replace("-", "").isalnum() or len(slug) > 64:
        raise AccountError("L'identifiant de l'association ne peut contenir que lettres, chiffres et tirets.")
    if not name.strip():
        raise AccountError("Le nom de l'association est obligatoire.")
    if db.session.scalar(select(Organisation).where(Organisation.slug == slug)):
        raise AccountError(f"L'association « {slug} » existe déjà.")
    # Files (Word templates, exports) are named from the ASCII form of the slug: two slugs with
    # the same form (« demo-lyon » and « demo-lyon- », « médiane » and « mediane ») would share them.
    from app.exports.text import ascii_slug

    folded = ascii_slug(slug, 64)
    if not folded:
        raise AccountError("L'identifiant de l'association doit contenir au moins une lettre ou un chiffre ASCII.")
    for existing in db.session.scalars(select(Organisation.slug)):
        if ascii_slug(existing, 64) == folded:
            raise AccountError(f"L'identifiant « {slug} » se confond avec celui de l'association « {existing} » : "
                               "choisissez-en un autre.")
    prefix = (ref_prefix or _prefix_from(slug)).upper()[:8]
    org = Organisation(slug=slug, name=name.strip(), ref_prefix=prefix)
    db.session.add(org)
    db.session.flush()
    audit.record("org.create", org_id=org.id, obj=org)
    return org


def _prefix_from(slug: str) -> str:
    letters = [c for c in slug.split("-")[-1] if c.isalpha()] or ["X"]
    return "".join(letters[:3]).upper()


def create_user(email: str, org: Organisation, role: str, password: str,
                full_name: str = "", actor: User | None = None) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError("Adresse électronique invalide.")
    try:
        Role(role)
    except ValueError:
        raise AccountError("Rôle inconnu : volunteer, lawyer, coordinator ou admin.") from None
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    existing = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if existing is not None:
        if existing.org_id == org.id:
            raise AccountError("Un compte de votre association existe déjà avec cette adresse.")
        # Addresses are unique across the installation, so a refusal cannot be avoided; it
        # must not say that the account exists in another association (nor which).
        raise AccountError("Cette adresse ne peut pas être utilisée pour un nouveau compte : demandez à la "
                           "personne une autre adresse.")
    user = User(email=email, org_id=org.id, role=role, full_name=full_name.strip(),
                password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", actor=actor, org_id=org.id, obj=user, role=role)
    return user


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None


# One answer for a wrong password, an unknown address, a locked account and a throttled address:
# none of them tells an attacker more than the others (nor answers faster: see _dummy_check).
GENERIC_LOGIN_ERROR = ("Adresse électronique ou mot de passe incorrect. Après plusieurs échecs, la connexion "
                       "est suspendue quelques minutes.")
THROTTLED_ERROR = "Trop de tentatives : patientez quelques minutes avant de réessayer."


@dataclass
class Limits:
    max_failures: int
    lock_minutes: int
    window: timedelta
    ip_max: int
    global_max: int


def _limits(max_failures: int | None = None, lock_minutes: int | None = None) -> Limits:
    from flask import current_app, has_app_context

    config = current_app.config if has_app_context() else {}
    return Limits(max_failures=max_failures or config.get("LOGIN_MAX_FAILURES", 5),
                  lock_minutes=lock_minutes or config.get("LOGIN_LOCK_MINUTES", 15),
                  window=timedelta(minutes=config.get("THROTTLE_WINDOW_MINUTES", 15)),
                  ip_max=config.get("THROTTLE_IP_MAX_FAILURES", 20),
                  global_max=config.get("THROTTLE_GLOBAL_MAX_FAILURES", 500))


def _dummy_check(password: str) -> None:
    """Spend the time of a real check, so a refused attempt answers as slowly as a wrong one."""
    try:
        _hasher.verify(_DUMMY_HASH, (password or "")[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        pass


def _reserve(scope: str, user: User | None, ip: str, limits: Limits, now: datetime) -> str | None:
    """Take one attempt from the address's, the installation's and the account's budgets BEFORE
    the secret is checked, and commit at once: parallel guesses each need their own reservation,
    so no more than the budget are ever checked. Returns why the attempt is refused, or None.

    Committing here is deliberate (services usually leave it to the request): the reservation
    must be visible to the other workers while this one spends ~200 ms in argon2."""
    from app.auth import throttle

    refused = None
    if throttle.hit(f"{scope}:ip:{ip or '-'}", limits.window, now) > limits.ip_max:
        refused = "ip"
    elif throttle.hit(f"{scope}:all", limits.window, now) > limits.global_max:
        refused = "global"
    elif user is not None:
        # One statement checks the lock and the count and takes the attempt: atomic.
        taken = db.session.execute(
            update(User).where(User.id == user.id, User.failed_logins < limits.max_failures,
                               or_(User.locked_until.is_(None), User.locked_until <= now))
            .values(failed_logins=User.failed_logins + 1)
            .execution_options(synchronize_session=False)).rowcount
        db.session.expire(user, ["failed_logins", "locked_until"])
        if taken != 1:
            refused = "account"
    db.session.commit()
    return refused


def _attempt_failed(scope: str, user: User | None, ip: str, limits: Limits, now: datetime) -> None:
    """The reserved attempt failed: lock the account once its budget is spent (audited)."""
    if user is None:
        return
    locked = db.session.execute(
        update(User).where(User.id == user.id, User.failed_logins >= limits.max_failures)
        .values(failed_logins=0, locked_until=now + timedelta(minutes=limits.lock_minutes))
        .execution_options(synchronize_session=False)).rowcount
    db.session.expire(user, ["failed_logins", "locked_until"])
    if locked:
        audit.record("auth.locked", object_type="user", object_id=user.id, org_id=user.org_id, ip=ip or "",
                     scope=scope, minutes=limits.lock_minutes)


def _attempt_succeeded(scope: str, user: User, ip: str, limits: Limits, now: datetime, *, forgive: bool) -> None:
    """Give the address and installation budgets back (they count failures) and, unless the
    second factor is still to come, forgive the account's failures."""
    from app.auth import throttle

    throttle.refund(f"{scope}:ip:{ip or '-'}", limits.window, now)
    throttle.refund(f"{scope}:all", limits.window, now)
    # Forgiven: the count starts again; not forgiven: only this attempt's reservation is returned.
    db.session.execute(update(User).where(User.id == user.id)
                       .values(failed_logins=0 if forgive else case((User.failed_logins > 0, User.failed_logins - 1), else_=0))
                       .execution_options(synchronize_session=False))
    db.session.expire(user, ["failed_logins"])


def _refused(scope: str, reason: str, user: User | None, ip: str) -> None:
    audit.record("auth.throttled", object_type="user", object_id=user.id if user else "inconnu",
                 org_id=user.org_id if user else None, ip=ip or "", scope=scope, reason=reason)


def lock_message(user: User, now: datetime | None = None) -> str | None:
    """French "wait" message while the account is locked (shown only once the person is logged
    in, e.g. in « Mon compte »: the login form never says an account is locked)."""
    now = now or utcnow()
    if user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return f"Trop de tentatives pour ce compte : réessayez dans {minutes} minutes."
    return None


def _org_of_domain(email: str) -> int | None:
    """The association whose members use this address's domain, when exactly one does: failed
    logins at unknown addresses then reach that association's journal, without the address."""
    domain = email.rpartition("@")[2]
    if not domain:
        return None
    orgs = db.session.scalars(select(User.org_id).where(func.lower(User.email).endswith("@" + domain,
                                                                                        autoescape=True))
                              .distinct().limit(2)).all()
    return orgs[0] if len(orgs) == 1 else None


def authenticate(email: str, password: str, *, max_failures: int | None = None, lock_minutes: int | None = None,
                 ip: str = "") -> LoginResult:
    """Check credentials. The attempt is reserved (address, installation and account budgets)
    before the password is checked; unknown address, wrong password, locked account and
    throttled address all give GENERIC_LOGIN_ERROR after the same argon2 work."""
    limits = _limits(max_failures, lock_minutes)
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    now = utcnow()
    refused = _reserve("login", user, ip, limits, now)
    if refused:
        _dummy_check(password)
        _refused("login", refused, user, ip)
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    if not verify_password(user, password) or user is None or not user.active:
        if user is not None:
            _attempt_failed("login", user, ip, limits, now)
            audit.record("auth.login_failed", object_type="user", object_id=user.id, org_id=user.org_id, ip=ip)
        else:
            audit.record("auth.login_failed", object_type="user", object_id="inconnu", org_id=_org_of_domain(email),
                         ip=ip)
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    # With a second factor, failures are only forgiven once the code is right: otherwise
    # logging in again with the stolen password would reset the count of wrong codes.
    _attempt_succeeded("login", user, ip, limits, now, forgive=not needs_second_factor(user))
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if needs_reencryption(user.totp_secret):
        user.totp_secret = encrypt_secret(decrypt_secret(user.totp_secret))
    audit.record("auth.login", actor=user, obj=user)
    return LoginResult(user)


# --- two-factor authentication -------------------------------------------------------------

TOTP_ISSUER = "Constat"
TOTP_STEP = 30  # seconds, the authenticator apps' default
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def needs_second_factor(user: User) -> bool:
    """Enrolled users always give a code; so does everyone once the association requires it."""
    return bool(user.totp_secret) or bool(user.organisation.require_2fa)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def qr_data_url(uri: str) -> str:
    """The otpauth URI as a PNG data: URL (CSP allows img data:, no inline script needed)."""
    buffer = io.BytesIO()
    qrcode.make(uri, box_size=6, border=2).save(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _time_counter(now: datetime) -> int:
    # `now` is naive UTC (app.core.clock); timegm reads it as UTC, unlike pyotp's mktime.
    return calendar.timegm(now.timetuple()) // TOTP_STEP


def _matching_counter(secret: str, code: str, last_counter: int | None, now: datetime) -> int | None:
    """The time step the code belongs to (now ± one step for clock drift), if not used before."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = _time_counter(now)
    for counter in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            # A code already used (or older than the last used one) is refused: replay.
            return counter if last_counter is None or counter > last_counter else None
    return None


def _hash_recovery(code: str) -> str:
    # Recovery codes carry ~49 random bits: a plain SHA-256 is enough (no dictionary to try).
    normalised = "".join(c for c in code.lower() if c.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    user.recovery_codes = json.dumps([_hash_recovery(c) for c in codes])
    return codes


def recovery_codes_left(user: User) -> int:
    return len(json.loads(user.recovery_codes or "[]"))


def enable_totp(user: User, secret: str, code: str, *, now: datetime | None = None) -> list[str]:
    """Confirm enrolment with a first code from the app; return the recovery codes (shown once)."""
    now = now or utcnow()
    counter = _matching_counter(secret, code, None, now)
    if counter is None:
        raise AccountError("Code incorrect : saisissez le code à 6 chiffres affiché par l'application.")
    user.totp_secret = encrypt_secret(secret)
    user.totp_last_counter = counter
    codes = _new_recovery_codes(user)
    audit.record("auth.2fa_enabled", actor=user, obj=user)
    return codes


def totp_secret_of(user: User) -> str | None:
    """The user's TOTP seed in clear (stored encrypted)."""
    return decrypt_secret(user.totp_secret)


def regenerate_recovery_codes(user: User) -> list[str]:
    """New recovery codes; the previous ones stop working."""
    if not user.totp_secret:
        raise AccountError("La double authentification n'est pas activée.")
    codes = _new_recovery_codes(user)
    audit.record("auth.2fa_recovery_regenerated", actor=user, obj=user)
    return codes


def check_second_factor(user: User, code: str, *, max_failures: int | None = None, lock_minutes: int | None = None,
                        now: datetime | None = None, ip: str = "") -> str | None:
    """Accept a TOTP code (once) or an unused recovery code. Returns None on success or a French
    error; each attempt is reserved from the same per-account budget as passwords (and the
    address's) before the code is compared."""
    limits = _limits(max_failures, lock_minutes)
    now = now or utcnow()
    if message := lock_message(user, now):
        return message
    refused = _reserve("2fa", user, ip, limits, now)
    if refused:
        _refused("2fa", refused, user, ip)
        return lock_message(user, now) or THROTTLED_ERROR
    code = (code or "").strip()[:64]
    secret = totp_secret_of(user)
    if secret and (counter := _matching_counter(secret, code, user.totp_last_counter, now)):
        # Compare-and-swap: two parallel requests with the same code cannot both pass.
        claimed = db.session.execute(
            update(User).where(User.id == user.id,
                               or_(User.totp_last_counter.is_(None), User.totp_last_counter < counter))
            .values(totp_last_counter=counter).execution_options(synchronize_session=False)
        ).rowcount
        db.session.expire(user, ["totp_last_counter"])
        if claimed == 1:
            _attempt_succeeded("2fa", user, ip, limits, now, forgive=True)
            audit.record("auth.2fa_passed", actor=user, obj=user, method="totp")
            return None
        _attempt_failed("2fa", user, ip, limits, now)
        return lock_message(user, now) or "Code incorrect ou déjà utilisé."
    hashes = json.loads(user.recovery_codes or "[]")
    digest = _hash_recovery(code)
    if code and digest in hashes:
        previous = user.recovery_codes
        hashes.remove(digest)
        claimed = db.session.execute(
            update(User).where(User.id == user.id, User.recovery_codes == previous)
            .values(recovery_codes=json.dumps(hashes)).execution_options(synchronize_session=False)
        ).rowcount
        db.session.expire(user, ["recovery_codes"])
        if claimed == 1:
            _attempt_succeeded("2fa", user, ip, limits, now, forgive=True)
            audit.record("auth.2fa_passed", actor=user, obj=user, method="recovery", left=len(hashes))
            return None
        _attempt_failed("2fa", user, ip, limits, now)
        return lock_message(user, now) or "Code incorrect ou déjà utilisé."
    _attempt_failed("2fa", user, ip, limits, now)
    audit.record("auth.2fa_failed", actor=user, obj=user, ip=ip)
    return lock_message(user, now) or "Code incorrect ou déjà utilisé."


def _check_current_password(user: User, password: str, ip: str, scope: str) -> None:
    """The current password, asked again before a sensitive change: throttled and counted like a
    login (a stolen session must not become a password-guessing oracle)."""
    limits = _limits()
    now = utcnow()
    refused = _reserve(scope, user, ip, limits, now)
    if refused:
        _dummy_check(password)
        _refused(scope, refused, user, ip)
        raise AccountError(lock_message(user, now) or THROTTLED_ERROR)
    if not verify_password(user, password or ""):
        _attempt_failed(scope, user, ip, limits, now)
        audit.record("auth.password_check_failed", actor=user, obj=user, ip=ip, scope=scope)
        # Committed by the caller even though the change is refused: the failure must count.
        raise AccountError(lock_message(user, now) or "Mot de passe actuel incorrect.")
    _attempt_succeeded(scope, user, ip, limits, now, forgive=True)


def disable_totp(user: User, password: str, *, ip: str = "") -> None:
    """The user turns 2FA off (needs the password; refused when the association requires it)."""
    if user.organisation.require_2fa:
        raise AccountError("Votre association exige la double authentification : elle ne peut pas être désactivée.")
    _check_current_password(user, password, ip, "password")
    _clear_totp(user)
    audit.record("auth.2fa_disabled", actor=user, obj=user)


def _clear_totp(user: User) -> None:
    user.totp_secret = None
    user.totp_last_counter = None
    user.recovery_codes = "[]"


def rekey_secrets() -> int:
    """Re-encrypt every TOTP seed with the current SECRET_KEY (after a rotation, or seeds stored
    before encryption). Returns how many were rewritten."""
    changed = 0
    for user in db.session.scalars(select(User).where(User.totp_secret.is_not(None))):
        if needs_reencryption(user.totp_secret):
            user.totp_secret = encrypt_secret(decrypt_secret(user.totp_secret))
            changed += 1
    if changed:
        audit.record("auth.secrets_rekeyed", count=changed)
    return changed


# --- own account -----------------------------------------------------------------------------

def change_password(user: User, current: str, new: str, *, ip: str = "", keep=None) -> None:
    """Needs the current password; ends every other session of the user (`keep`: the one
    asking) and bumps the session version."""
    from app.auth import sessions

    if new == current:
        raise AccountError("Le nouveau mot de passe doit être différent de l'actuel.")
    problem = password_problem(new or "")
    if problem:
        raise AccountError(problem)
    _check_current_password(user, current, ip, "password")
    user.password_hash = hash_password(new)
    user.session_version += 1
    sessions.revoke_all(user, keep=keep)
    audit.record("auth.password_changed", actor=user, obj=user)


def update_profile(user: User, full_name: str) -> None:
    """Only the display name: e-mail, role and association are not the user's to change."""
    full_name = (full_name or "").strip()
    if len(full_name) > 200:
        raise AccountError("Le nom est limité à 200 caractères.")
    if full_name != user.full_name:
        user.full_name = full_name
        audit.record("user.profile_updated", actor=user, obj=user)


# --- the association's accounts (admins) ---------------------------------------------------

def members(org_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(User.org_id == org_id)
                                   .order_by(User.active.desc(), User.full_name, User.email)))


def get_member_or_404(user_id: int, actor: User) -> User:
    """A member of the actor's association; 404 for anyone else (same as missing)."""
    from flask import abort

    user = db.session.scalar(select(User).where(User.id == user_id, User.org_id == actor.org_id))
    if user is None:
        abort(404)
    return user


def set_active(user: User, active: bool, actor: User) -> None:
    """Deactivation ends the user's sessions at once (the loader refuses inactive users and
    the session version changes, so even a reactivation does not revive old cookies)."""
    if user.id == actor.id:
        raise AccountError("Vous ne pouvez pas désactiver votre propre compte.")
    if user.active == active:
        return
    user.active = active
    user.session_version += 1
    from app.auth import sessions

    sessions.revoke_all(user)
    if active:
        user.failed_logins = 0
        user.locked_until = None
    audit.record("user.reactivated" if active else "user.deactivated", actor=actor, obj=user)


def reset_totp(user: User, actor: User) -> None:
    """Lost phone: the member enrols again at next login; their open sessions end."""
    from app.auth import sessions

    _clear_totp(user)
    user.session_version += 1
    sessions.revoke_all(user)
    audit.record("auth.2fa_reset", actor=actor, obj=user)


def set_require_2fa(org: Organisation, required: bool, actor: User) -> None:
    if org.require_2fa != required:
        org.require_2fa = required
        audit.record("org.require_2fa", actor=actor, obj=org, required=required)
