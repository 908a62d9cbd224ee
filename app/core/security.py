"""Security headers on every response, session lifetime checks, the proxy setting, bounded
integer routes, and the keys derived from SECRET_KEY (secrets at rest, audit chain, backups)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

from flask import Flask, current_app, g, request, session
from flask_login import current_user, logout_user

from app.core.clock import utcnow

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; base-uri 'none'"
)
# Set on every response the WSGI app returns, even one made outside a request context.
BASELINE_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    # same-origin, not no-referrer: behind an HTTPS proxy Flask-WTF (WTF_CSRF_SSL_STRICT) refuses a
    # form POST without a same-site Referer; other sites still never receive one.
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
# Largest id a route accepts: the id columns are INTEGER, signed 32-bit on PostgreSQL; a larger
# number would overflow in the driver (a 500) instead of being "not found".
MAX_ROUTE_INT = 2**31 - 1
MIN_SECRET_BYTES = 32
_VERSION = "v1:"


# --- keys derived from SECRET_KEY ------------------------------------------------------------

def derived_key(label: str, secret: str | None = None) -> bytes:
    """A 32-byte key for one purpose: HMAC-SHA256(SECRET_KEY, label). Separate labels give
    independent keys, so the session cookie key never doubles as the audit or backup key."""
    secret = secret if secret is not None else current_app.config["SECRET_KEY"]
    return hmac.new(secret.encode(), f"constat:{label}".encode(), hashlib.sha256).digest()


def _secrets() -> list[str]:
    """The current SECRET_KEY, then SECRET_KEY_PREVIOUS (rotation: old values still decrypt)."""
    previous = current_app.config.get("SECRET_KEY_PREVIOUS") or ""
    return [current_app.config["SECRET_KEY"], *[p.strip() for p in previous.split(",") if p.strip()]]


def _fernet(secrets_: list[str]):
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived_key("secrets-at-rest/v1", s))) for s in secrets_])


def encrypt_secret(plain: str) -> str:
    """Encrypt a small secret (a TOTP seed) for the database: "v1:" + Fernet token."""
    return _VERSION + _fernet(_secrets()[:1]).encrypt(plain.encode()).decode()


def decrypt_secret(stored: str | None) -> str | None:
    """The plain secret. Values written before encryption (no "v1:") are returned as they are
    and re-encrypted by `flask users rekey-secrets`; raises ValueError when no key opens it."""
    if not stored:
        return stored
    if not stored.startswith(_VERSION):
        return stored
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(_secrets()).decrypt(stored[len(_VERSION):].encode()).decode()
    except InvalidToken:
        raise ValueError("secret encrypted with an unknown key (SECRET_KEY changed?)") from None


def needs_reencryption(stored: str | None) -> bool:
    """True for a plaintext value or one not encrypted with the current key."""
    if not stored:
        return False
    if not stored.startswith(_VERSION):
        return True
    from cryptography.fernet import InvalidToken

    try:
        _fernet(_secrets()[:1]).decrypt(stored[len(_VERSION):].encode())
    except InvalidToken:
        return True
    return False


# --- the app ---------------------------------------------------------------------------------

class _HeadersMiddleware:
    """Adds the baseline headers to responses that never went through Flask's after_request
    (an exception escaping the app, a response made by middleware). Responses made before the
    app is reached (gunicorn's own 400/414) need the proxy: see the README, "Déploiement"."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers = list(headers) + [(k, v) for k, v in BASELINE_HEADERS if k.lower() not in present]
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start)


def _bound_int_routes(app: Flask) -> None:
    """Give every <int:…> converter an upper bound: /cases/999…9 is a 404, never an overflow."""
    for rule in app.url_map.iter_rules():
        for converter in getattr(rule, "_converters", {}).values():
            if converter.__class__.__name__ == "IntegerConverter" and converter.max is None:
                converter.max = MAX_ROUTE_INT


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES", 0) or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only behind a configured proxy: otherwise any client could claim any address or https.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    app.wsgi_app = _HeadersMiddleware(app.wsgi_app)
    _bound_int_routes(app)

    @app.before_request
    def enforce_session_lifetime():
        """Idle timeout and absolute lifetime, read from the server-side session row (the cookie
        only names it): a cookie edited to look recent changes nothing."""
        if not current_user.is_authenticated:
            return None
        from app.extensions import db

        row = g.get("user_session")
        now = utcnow()
        idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
        lifetime = timedelta(hours=app.config["SESSION_MAX_HOURS"])
        if row is None or now - row.created_at > lifetime or now - row.last_seen_at > idle:
            if row is not None:
                row.revoked_at = now
                db.session.commit()
            logout_user()
            session.clear()
            session["expired"] = True
            return None
        # Write at most once a minute so static files don't churn the database.
        if now - row.last_seen_at > timedelta(minutes=1):
            row.last_seen_at = now
            db.session.commit()
        return None

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not request.path.startswith("/static/") and not g.get("public_cacheable"):
            # Pages may carry personal data: never kept by browsers or proxies (the public
            # statistics page, anonymised and the same for everyone, sets g.public_cacheable).
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response
