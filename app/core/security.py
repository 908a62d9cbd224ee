"""Security headers on every response and session lifetime checks."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, g, request, session
from flask_login import current_user, logout_user

from app.core.clock import utcnow

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'; base-uri 'none'"
)


def init_app(app: Flask) -> None:
    @app.before_request
    def enforce_session_lifetime():
        """Idle timeout and absolute lifetime (configuration, in minutes and hours)."""
        if not current_user.is_authenticated:
            return None
        now = utcnow()
        started = session.get("started_at")
        seen = session.get("seen_at")
        idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
        lifetime = timedelta(hours=app.config["SESSION_MAX_HOURS"])
        # A session without its timestamps (never set by /login) is not trusted either.
        if not started or not seen or now - datetime.fromisoformat(started) > lifetime or (
            now - datetime.fromisoformat(seen) > idle
        ):
            logout_user()
            session.clear()
            session["expired"] = True
            return None
        # Write at most once a minute so static files don't churn the cookie.
        if now - datetime.fromisoformat(seen) > timedelta(minutes=1):
            session["seen_at"] = now.isoformat()
        return None

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        if not request.path.startswith("/static/") and not g.get("public_cacheable"):
            # Pages may carry personal data: never kept by browsers or proxies (the public
            # statistics page, anonymised and the same for everyone, sets g.public_cacheable).
            headers["Cache-Control"] = "no-store"
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        return response
