"""Password reset by e-mail (issue 14): a signed, short-lived link that works once.

The link carries the account id and a fingerprint of the current password hash, signed with a
key derived from SECRET_KEY: once the password changes (by this link or otherwise) the fingerprint
no longer matches, so the link is single-use without any table. The request page answers the
same whether the address exists or not, and the mail leaves from a background thread so that
the answer takes the same time either way.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from app.audit import services as audit
from app.auth import services, sessions, throttle
from app.auth.models import User
from app.core.clock import utcnow
from app.extensions import db

SALT = "password-reset/v1"
MAX_MAILS_PER_ACCOUNT = 3  # per throttle window: the link is not a way to flood someone's inbox


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    from app.core.security import derived_key

    return URLSafeTimedSerializer(derived_key(SALT, secret_key).hex(), salt=SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}:{user.session_version}".encode()).hexdigest()[:24]


def make_token(user: User, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_token(token: str, secret_key: str, max_minutes: int) -> User | None:
    """The active account the link was made for, if still valid (signature, age, not used)."""
    if not isinstance(token, str) or len(token) > 400:
        return None
    try:
        data = _serializer(secret_key).loads(token, max_age=max_minutes * 60)
        user = db.session.get(User, int(data["u"]))
    except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError, OverflowError):
        return None
    if user is None or not user.active or not hmac.compare_digest(_fingerprint(user), str(data.get("f", ""))):
        return None
    return user


def reset_message(to: str, sender: str, link: str, minutes: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Constat : choisir un nouveau mot de passe"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or "constat.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "Bonjour,\n\n"
        "Quelqu'un (vous, sans doute) a demandé à changer le mot de passe de votre compte Constat.\n"
        f"Pour choisir un nouveau mot de passe, ouvrez ce lien dans les {minutes} minutes :\n\n"
        f"{link}\n\n"
        "Le lien ne sert qu'une fois. Si vous n'avez rien demandé, ignorez ce courriel : votre mot de passe\n"
        "ne change pas. Vos autres sessions seront fermées au changement.\n\n-- \nConstat\n")
    return message


def request_reset(email: str, *, ip: str, now: datetime | None = None) -> User | None:
    """Count the request (address, installation, account budgets) and return the account to
    write to, or None (unknown, inactive, or over budget): the caller answers the same anyway."""
    limits = services._limits()
    now = now or utcnow()
    email = (email or "").strip().lower()[:254]
    if throttle.hit(f"reset:ip:{ip or '-'}", limits.window, now) > limits.ip_max or \
            throttle.hit("reset:all", limits.window, now) > limits.global_max:
        audit.record("auth.throttled", object_type="user", object_id="inconnu", ip=ip, scope="reset", reason="ip")
        return None
    user = db.session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
    if user is None or not user.active:
        audit.record("auth.password_reset_requested", object_type="user", object_id="inconnu",
                     org_id=services._org_of_domain(email), ip=ip)
        return None
    if throttle.hit(f"reset:account:{user.id}", limits.window, now) > MAX_MAILS_PER_ACCOUNT:
        audit.record("auth.throttled", object_type="user", object_id=user.id, org_id=user.org_id, ip=ip,
                     scope="reset", reason="account")
        return None
    audit.record("auth.password_reset_requested", object_type="user", object_id=user.id, org_id=user.org_id, ip=ip)
    return user


def send_in_background(settings, message: EmailMessage) -> threading.Thread:
    """Send without making the request wait (its duration would tell that the address exists)."""
    from app.deadlines.mail import MailRefused, MailUnavailable, SmtpTransport

    def run():
        try:
            with SmtpTransport(settings) as smtp:
                smtp.send(message)
        except (MailUnavailable, MailRefused):
            pass  # nothing to tell the requester; the user can ask again

    thread = threading.Thread(target=run, name="password-reset-mail", daemon=True)
    thread.start()
    return thread


def complete_reset(user: User, new_password: str, *, ip: str) -> None:
    """Set the new password: the link dies with the old hash, every session ends, the lock lifts."""
    problem = services.password_problem(new_password or "")
    if problem:
        raise services.AccountError(problem)
    user.password_hash = services.hash_password(new_password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until = None
    sessions.revoke_all(user)
    audit.record("auth.password_reset", actor=user, obj=user, ip=ip)


