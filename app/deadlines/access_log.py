"""Gunicorn access log that never writes a calendar token: the feed's address is its credential.

Use with `gunicorn --logger-class app.deadlines.access_log.Logger` (the Makefile's serve line).
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger as GunicornLogger

CALENDAR = re.compile(r"^/calendar/[^/?#]*")
MASKED = "/calendar/***.ics"


class Logger(GunicornLogger):
    def atoms(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO", "").startswith("/calendar/"):
            environ = dict(environ, PATH_INFO=MASKED, RAW_URI=CALENDAR.sub(MASKED, environ.get("RAW_URI", "")))
        return super().atoms(resp, req, environ, request_time)
