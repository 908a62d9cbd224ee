"""Background workers started with the app (OCR queue, search catch-up).

Each domain registers a `tick(app) -> bool` function; a daemon thread calls it in an
app context, again at once when it did work, after `interval` seconds otherwise.
Threads start on the first request so that CLI commands and tests never start them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from app.extensions import db


@dataclass
class Worker:
    name: str
    tick: Callable[[Flask], bool]
    interval: float


_REGISTRY: list[Worker] = []


def register(name: str, tick: Callable[[Flask], bool], interval: float = 2.0) -> None:
    if not any(w.name == name for w in _REGISTRY):
        _REGISTRY.append(Worker(name, tick, interval))


def run_loop(app: Flask, worker: Worker, stop: threading.Event) -> None:
    while not stop.is_set():
        did_work = False
        try:
            with app.app_context():
                did_work = worker.tick(app)
        except Exception:  # a worker must survive any single failure
            app.logger.exception("worker %s failed; retrying", worker.name)
        finally:
            with app.app_context():
                db.session.remove()
        if not did_work:
            stop.wait(worker.interval)


def init_app(app: Flask) -> None:
    app.extensions["workers_stop"] = stop = threading.Event()
    started = {"done": False}
    lock = threading.Lock()

    @app.before_request
    def _start_workers():
        if started["done"] or not app.config.get("START_WORKERS"):
            return
        with lock:
            if started["done"]:
                return
            started["done"] = True
            for worker in _REGISTRY:
                threading.Thread(target=run_loop, args=(app, worker, stop),
                                 name=f"constat-{worker.name}", daemon=True).start()


def registered() -> list[Worker]:
    return list(_REGISTRY)


def tick_all(app: Flask) -> bool:
    """One tick of every worker (`flask worker`); True if any did work. A failure is logged
    (its type only) and the others still run."""
    did_work = False
    for worker in _REGISTRY:
        try:
            with app.app_context():
                did_work = worker.tick(app) or did_work
        except Exception:  # a worker must survive any single failure
            app.logger.exception("worker %s failed; retrying", worker.name)
        finally:
            with app.app_context():
                db.session.remove()
    return did_work


def wait_idle(app: Flask, timeout: float = 30.0) -> None:
    """Run every worker until none has work left (CLI and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            if not any(w.tick(app) for w in _REGISTRY):
                return
