"""Accounts: password hashing (argon2id), authentication with per-account throttling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from app.audit import services as audit
from app.auth.models import Organisation, Role, User
from app.core.clock import utcnow
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
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
        raise AccountError("Un compte existe déjà avec cette adresse.")
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


GENERIC_LOGIN_ERROR = "Adresse électronique ou mot de passe incorrect."


def authenticate(email: str, password: str, *, max_failures: int, lock_minutes: int) -> LoginResult:
    """Check credentials with per-account throttling. Unknown e-mail and wrong password
    give the same message; a locked account says to wait (without confirming the password)."""
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        audit.record("auth.login_throttled", object_type="user", object_id=user.id, org_id=user.org_id)
        return LoginResult(None, f"Trop de tentatives de connexion pour ce compte : réessayez dans {minutes} minutes.")
    if not verify_password(user, password) or user is None or not user.active:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(minutes=lock_minutes)
                user.failed_logins = 0
            audit.record("auth.login_failed", object_type="user", object_id=user.id, org_id=user.org_id)
        else:
            audit.record("auth.login_failed", object_type="user", object_id="inconnu")
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("auth.login", actor=user, obj=user)
    return LoginResult(user)
