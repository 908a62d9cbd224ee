"""Deadline digests by e-mail: the message (pure) and the SMTP transport (standard library).

A digest carries case references, dates, kinds, what to do and links — never a person's name,
numéro étranger or narrative: mail crosses servers we do not control.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from app.cases.deadlines import kind_label
from app.core.formats import date_fr, date_long

MAX_LINES = 40  # per section; the rest is on the « Échéances » page
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class DigestLine:
    case_id: int
    day: date
    reference: str
    kind: str
    action: str
    url: str
    unassigned: bool = False  # a case nobody follows (sent to the association's admins)
    new: bool = False  # not told to this recipient before


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def subject_of(lines: list[DigestLine], today: date) -> str:
    overdue = sum(1 for line in lines if line.day < today)
    subject = f"Constat : {_plural(len(lines), 'échéance')}"
    return subject + (f", dont {overdue} à traiter sans attendre" if overdue else "")


def digest_text(lines: list[DigestLine], today: date, horizon_days: int, base_url: str) -> str:
    """The plain-text body: overdue, coming within the horizon, then the new deadlines further away."""
    unassigned = any(line.unassigned for line in lines)
    out = ["Bonjour,", "",
           f"Voici les échéances au {date_long(today)} des dossiers que vous suivez"
           + (", et de ceux que personne ne suit (« sans suivi »)." if unassigned else "."), ""]

    def section(title: str, items: list[DigestLine]) -> None:
        if not items:
            return
        out.append(f"{title} ({len(items)})")
        for line in items[:MAX_LINES]:
            marks = "".join((" · nouveau" if line.new else "", " · sans suivi" if line.unassigned else ""))
            out.append(f"- {date_fr(line.day)} · {line.reference} · {kind_label(line.kind)}{marks}")
            out.append(f"  {line.action}")
            out.append(f"  {line.url}")
        if len(items) > MAX_LINES:
            out.append(f"- … et {len(items) - MAX_LINES} autre(s) : voir la page « Échéances ».")
        out.append("")

    limit = date.fromordinal(today.toordinal() + horizon_days)
    # Passed deadlines still due (a renewal not filed, a lapsed API) and OQTFs of the last weeks.
    section("À traiter sans attendre", [line for line in lines if line.day < today])
    section(f"Dans les {horizon_days} prochains jours", [line for line in lines if today <= line.day <= limit])
    section("Nouvelles échéances plus lointaines", [line for line in lines if line.day > limit])
    out += [f"Toutes les échéances de l'association : {base_url}/deadlines",
            f"Recevoir ce courriel chaque semaine, ou ne plus le recevoir : {base_url}/account/",
            "",
            "-- ",
            "Constat. Ce courriel ne contient aucun nom ni numéro : ouvrez le dossier pour le détail."]
    return "\n".join(out) + "\n"


def digest_message(to: str, sender: str, lines: list[DigestLine], today: date, horizon_days: int,
                   base_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject_of(lines, today)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or "constat.invalid")
    # RFC 3834: no auto-replies (« absent du bureau ») to a robot.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(digest_text(lines, today, horizon_days, base_url))
    return message


class MailUnavailable(Exception):
    """The SMTP server cannot be used now (unreachable, refused the login…): try again later."""


class MailRefused(Exception):
    """The server refused this one message (e.g. the recipient): the others may still go."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    sender: str
    starttls: bool
    timeout: float = 20.0

    @classmethod
    def from_config(cls, config) -> SmtpSettings | None:
        """None when SMTP_HOST is not set: nothing is sent then."""
        if not config.get("SMTP_HOST"):
            return None
        return cls(config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_USER"], config["SMTP_PASSWORD"],
                   config["SMTP_FROM"], config["SMTP_STARTTLS"], config["SMTP_TIMEOUT"])


class SmtpTransport:
    """One SMTP connection for a whole run: `with SmtpTransport(settings) as smtp: smtp.send(msg)`."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        s = self.settings
        implicit_tls = s.port == 465
        if s.user and not (s.starttls or implicit_tls) and s.host not in LOCAL_HOSTS:
            raise MailUnavailable("le mot de passe SMTP ne part pas en clair : réglez SMTP_STARTTLS=1 "
                                  "(ou le port 465).")
        try:
            if implicit_tls:
                self.connection = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                   context=ssl.create_default_context())
            else:
                self.connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    self.connection.starttls(context=ssl.create_default_context())
            if s.user:
                self.connection.login(s.user, s.password)
        except (OSError, smtplib.SMTPException) as exc:
            self._close()
            raise MailUnavailable(f"serveur SMTP {s.host}:{s.port} injoignable ou refusant la connexion "
                                  f"({type(exc).__name__}).") from None
        return self

    def send(self, message: EmailMessage) -> None:
        try:
            self.connection.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            raise MailRefused(type(exc).__name__) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(f"connexion SMTP perdue ({type(exc).__name__}).") from None

    def _close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None

    def __exit__(self, *exc_info) -> None:
        self._close()
