"""Configuration read from the environment (see the README's "Configuration")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

load_dotenv()


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or "localhost"
    return "localhost" if host.replace(".", "").isdigit() else host


def _load_or_create_secret(data_dir: Path) -> str:
    """Generate the secret key once into DATA_DIR so sessions survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Created with 0600 so other local users cannot read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Config:
    """Everything the app needs to know about its environment."""

    def __init__(self, **overrides):
        env = os.environ
        self.PRODUCTION = env.get("CONSTAT_ENV", "").lower() == "production"
        self.DATA_DIR = Path(env.get("DATA_DIR", "instance")).resolve()
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or (
            f"sqlite:///{self.DATA_DIR / 'constat.db'}"
        )
        self.SECRET_KEY = env.get("SECRET_KEY")
        self.DEBUG = _bool("FLASK_DEBUG")
        self.TESTING = False
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.PRODUCTION
        self.SESSION_COOKIE_NAME = "constat_session"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.WTF_CSRF_TIME_LIMIT = 8 * 3600
        # Sessions: idle timeout and absolute lifetime, in minutes.
        self.SESSION_IDLE_MINUTES = int(env.get("SESSION_IDLE_MINUTES", "60"))
        self.SESSION_MAX_HOURS = int(env.get("SESSION_MAX_HOURS", "12"))
        # Login throttling per account: after N failures the account waits.
        self.LOGIN_MAX_FAILURES = int(env.get("LOGIN_MAX_FAILURES", "5"))
        self.LOGIN_LOCK_MINUTES = int(env.get("LOGIN_LOCK_MINUTES", "15"))
        # Failed attempts (login, second factor, current password) per source address and for
        # the whole installation, per window; counted in the database, shared by every worker.
        self.THROTTLE_WINDOW_MINUTES = int(env.get("THROTTLE_WINDOW_MINUTES", "15"))
        self.THROTTLE_IP_MAX_FAILURES = int(env.get("THROTTLE_IP_MAX_FAILURES", "20"))
        self.THROTTLE_GLOBAL_MAX_FAILURES = int(env.get("THROTTLE_GLOBAL_MAX_FAILURES", "500"))
        # Password reset by e-mail: lifetime of the link, in minutes (needs SMTP_HOST).
        self.PASSWORD_RESET_MINUTES = int(env.get("PASSWORD_RESET_MINUTES", "30"))
        # Number of reverse proxies in front of the app (X-Forwarded-For/-Proto trusted only then).
        self.TRUSTED_PROXIES = int(env.get("TRUSTED_PROXIES", "0"))
        # Key rotation: the previous SECRET_KEY(s), comma-separated, still decrypt secrets at rest
        # until `flask users rekey-secrets` and `flask audit rekey` have run (README).
        self.SECRET_KEY_PREVIOUS = env.get("SECRET_KEY_PREVIOUS", "")
        # Optional file holding the audit chain's key (else derived from SECRET_KEY).
        self.AUDIT_KEY_FILE = env.get("AUDIT_KEY_FILE", "")
        # Deadlines (domain.md: keep configurable, check the current texts).
        self.RENEWAL_WINDOW_START_DAYS = int(env.get("RENEWAL_WINDOW_START_DAYS", "120"))
        self.RENEWAL_WINDOW_END_DAYS = int(env.get("RENEWAL_WINDOW_END_DAYS", "60"))
        self.IMPLICIT_REJECTION_MONTHS = int(env.get("IMPLICIT_REJECTION_MONTHS", "4"))
        self.CHALLENGE_WINDOW_MONTHS = int(env.get("CHALLENGE_WINDOW_MONTHS", "2"))
        self.API_VALIDITY_MONTHS = int(env.get("API_VALIDITY_MONTHS", "3"))
        # Uploads.
        self.MAX_EXHIBIT_BYTES = int(env.get("MAX_EXHIBIT_BYTES", str(20 * 1024 * 1024)))
        self.MAX_CONTENT_LENGTH = self.MAX_EXHIBIT_BYTES * 5 + 1024 * 1024
        self.MAX_IMPORT_BYTES = int(env.get("MAX_IMPORT_BYTES", str(10 * 1024 * 1024)))
        # Where exhibit files live: DATA_DIR/exhibits unless EXHIBIT_STORE names a directory shared
        # by every app server (README « Plusieurs serveurs »).
        self.EXHIBIT_STORE = env.get("EXHIBIT_STORE", "").strip()
        # Background workers started with the app (OCR, search catch-up).
        self.START_WORKERS = _bool("START_WORKERS", True)
        # Above this many cases an export or a web import runs as a job; its file is kept this long.
        self.JOB_THRESHOLD_CASES = int(env.get("JOB_THRESHOLD_CASES", "2000"))
        self.JOB_KEEP_HOURS = int(env.get("JOB_KEEP_HOURS", "24"))
        # How long a page waits for the day's recomputation of urgencies and deadlines.
        self.PAGE_REFRESH_SECONDS = float(env.get("PAGE_REFRESH_SECONDS", "1"))
        self.CASES_PER_PAGE = 50
        # Address of the app as users reach it: links in e-mails and calendar feeds.
        self.BASE_URL = (env.get("BASE_URL") or f"http://127.0.0.1:{env.get('PORT', '5000')}").rstrip("/")
        # E-mail (deadline digests, `flask deadlines notify`): without SMTP_HOST nothing is sent, and
        # the command says so. SMTP_STARTTLS=1 upgrades the connection; port 465 is implicit TLS.
        self.SMTP_HOST = env.get("SMTP_HOST", "").strip()
        self.SMTP_PORT = int(env.get("SMTP_PORT", "25"))
        self.SMTP_USER = env.get("SMTP_USER", "")
        self.SMTP_PASSWORD = env.get("SMTP_PASSWORD", "")
        self.SMTP_STARTTLS = _bool("SMTP_STARTTLS")
        self.SMTP_TIMEOUT = float(env.get("SMTP_TIMEOUT", "20"))
        self.SMTP_FROM = env.get("SMTP_FROM") or f"Constat <no-reply@{_host_of(self.BASE_URL)}>"
        # LibreOffice for the Télérecours bundle (inventory and text pièces as PDF): found on PATH
        # unless SOFFICE names it; SOFFICE="" turns it off (those pièces are then refused, said why).
        self.SOFFICE = env.get("SOFFICE")
        self.SOFFICE_TIMEOUT = float(env.get("SOFFICE_TIMEOUT", "60"))
        self.DEMO_PASSWORD = env.get("DEMO_PASSWORD")
        for key, value in overrides.items():
            setattr(self, key, value)

    def finalise(self) -> None:
        """Fill derived values and refuse unsafe production settings."""
        if self.PRODUCTION:
            if self.DEBUG:
                raise RuntimeError("Refus de démarrer : le mode debug est interdit en production.")
            if not self.SECRET_KEY:
                raise RuntimeError("Refus de démarrer : SECRET_KEY est obligatoire en production.")
            if len(self.SECRET_KEY.encode()) < 32:
                # It derives the keys of sessions, secrets at rest, the audit chain and backups.
                raise RuntimeError("Refus de démarrer : SECRET_KEY doit compter au moins 32 octets aléatoires "
                                   "(par exemple : python -c 'import secrets; print(secrets.token_hex(32))').")
        self.DATA_DIR = Path(self.DATA_DIR)
        self.DATA_DIR.mkdir(parents=True, exist_ok=True)
        if not self.SECRET_KEY:
            self.SECRET_KEY = _load_or_create_secret(self.DATA_DIR)
        self.INDEX_DIR = self.DATA_DIR / "index"
        if self.EXHIBIT_STORE:
            # A shared store: thumbnails and the associations' Word bases live beside it, so that a
            # server may lose its DATA_DIR and still serve them. The parent is laid out like a
            # DATA_DIR (exhibits/, thumbnails/, brief_templates/): `backup restore` with
            # DATA_DIR=<that parent> puts everything back in place.
            self.EXHIBIT_DIR = Path(self.EXHIBIT_STORE).resolve()
            shared = self.EXHIBIT_DIR.parent
            self.THUMBNAIL_DIR = shared / "thumbnails"
            self.TEMPLATE_DIR = shared / "brief_templates"
            # A web import previewed on one server is confirmed on whichever answers next.
            self.IMPORT_DIR = shared / "imports"
        else:
            self.EXHIBIT_DIR = self.DATA_DIR / "exhibits"
            self.THUMBNAIL_DIR = self.DATA_DIR / "thumbnails"
            self.TEMPLATE_DIR = self.DATA_DIR / "brief_templates"
            self.IMPORT_DIR = self.DATA_DIR / "imports"


def testing_config(data_dir: Path, **overrides) -> Config:
    """Configuration for the test suite: a fresh data directory, no background workers."""
    db_url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{data_dir / 'constat.db'}"
    config = Config(
        DATA_DIR=data_dir,
        SQLALCHEMY_DATABASE_URI=db_url,
        TESTING=True,
        SECRET_KEY="test-secret-key",  # noqa: S106  (tests only)
        START_WORKERS=False,
        **overrides,
    )
    return config
