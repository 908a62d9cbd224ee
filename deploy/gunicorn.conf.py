"""Gunicorn settings of an app server (README « Plusieurs serveurs »):
`.venv/bin/gunicorn -c deploy/gunicorn.conf.py wsgi:app`, the same as `make run`'s serve line."""

import os

# The address nginx reaches this server at (a private address, never the public one).
bind = os.environ.get("CONSTAT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("CONSTAT_WORKERS", "2"))
threads = 4
# Large exports go to `flask worker`; the Télérecours bundle and briefs stay under this limit.
timeout = 120
graceful_timeout = 30
accesslog = "-"
# Path without the query string (search terms are personal data); calendar tokens masked.
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(L)ss'
logger_class = "app.deadlines.access_log.Logger"
