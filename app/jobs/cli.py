"""`flask worker`: runs the background work (OCR, search indexing, large exports) until stopped."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core import workers


@click.command("worker")
@click.option("--once", is_flag=True, help="Traite ce qui attend, puis s'arrête (sinon : tourne jusqu'à SIGTERM).")
@click.option("--idle", default=1.0, show_default=True, type=click.FloatRange(0.1, 60),
              help="Secondes d'attente quand il n'y a rien à faire.")
@with_appcontext
def worker_command(once, idle):
    """Traite le travail de fond (OCR, index de recherche, exports longs) ; autant de processus que voulu,
    sur autant de machines : un travail n'est jamais fait deux fois, celui d'un processus tué est repris."""
    app = current_app._get_current_object()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())  # finish the current unit of work, then leave
    click.echo(f"worker : {', '.join(w.name for w in workers.registered())} ; arrêt par SIGTERM ou Ctrl-C.")
    while not stop.is_set():
        did_work = workers.tick_all(app)
        if once and not did_work:
            break
        if not did_work:
            stop.wait(idle)
    click.echo("worker arrêté.")


cli_groups = [worker_command]
