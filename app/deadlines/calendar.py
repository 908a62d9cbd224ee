"""Calendar feeds: each user's secret token, and the iCalendar text (RFC 5545) of their deadlines.

The token is `<user id>-<HMAC-SHA256(SECRET_KEY, user id + the user's calendar key)>`: the
database keeps only the random key, so a stolen backup (which holds no SECRET_KEY, see the
README) gives no working feed address; regenerating the key revokes the old address.

The writer is a few lines of our own rather than a dependency: all-day VEVENTs only, with
TEXT escaped (RFC 5545 §3.3.11) and lines folded at 75 octets without splitting a UTF-8
character (§3.1). The tests read every feed back with the `icalendar` package.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

TOKEN = re.compile(r"^([1-9][0-9]{0,11})-([A-Za-z0-9_-]{43})$")


def new_key() -> str:
    return secrets.token_hex(16)


def token_for(user_id: int, key: str, secret: str) -> str:
    """The feed token of a user whose calendar key is `key`."""
    mac = hmac.new(secret.encode(), f"calendar|{user_id}|{key}".encode(), hashlib.sha256).digest()
    return f"{user_id}-{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def user_id_of(token: str) -> int | None:
    """The user id a well-formed token names (not yet verified), else None."""
    match = TOKEN.match(token or "")
    return int(match.group(1)) if match else None


def token_matches(token: str, user_id: int, key: str | None, secret: str) -> bool:
    """True when the token is the current one of this user (a revoked key, "" or None, never matches)."""
    if not key:
        return False
    return hmac.compare_digest(token.encode(), token_for(user_id, key, secret).encode())


@dataclass(frozen=True)
class CalendarEvent:
    """One all-day event: a deadline of a case, named by its reference (never the person)."""

    uid: str
    day: date
    summary: str
    description: str
    url: str


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma, newline."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Content line folded at 75 octets (§3.1): continuation lines start with one space."""
    parts, current, size = [], [], 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = 75 if not parts else 74  # the leading space of a continuation counts
        if size + width > limit:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def ics(events: Iterable[CalendarEvent], now: datetime, name: str = "Constat : échéances") -> bytes:
    """The VCALENDAR of these events; `now` (naive UTC) stamps each event (DTSTAMP)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Constat//Echeances//FR", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{escape_text(name)}", f"NAME:{escape_text(name)}",
             # Ask clients to poll a few times a day (RFC 7986; Outlook/Apple read the X- one).
             "REFRESH-INTERVAL;VALUE=DURATION:PT6H", "X-PUBLISHED-TTL:PT6H"]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape_text(event.uid)}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{event.day.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(event.day + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{escape_text(event.summary)}",
            f"DESCRIPTION:{escape_text(event.description)}",
            f"URL:{event.url}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")
