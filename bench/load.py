"""Load test of several servers (issue 13): PostgreSQL, two app servers and a worker, all started
by this script on loopback, then N simulated members for a fixed time.

    .venv/bin/python bench/load.py                  # 16 members, 60 s
    .venv/bin/python bench/load.py --seconds 30     # the CI setting (.ci/run)
    .venv/bin/python bench/load.py --users 32 --think 0
    .venv/bin/python bench/load.py --nginx          # the load through deploy/nginx-constat.conf, HTTPS
    .venv/bin/python bench/load.py --fault pg-restart   # PostgreSQL restarted a third of the way (root)
    .venv/bin/python bench/load.py --fault kill-server  # server A SIGKILLed mid-load, then restarted

What it starts: a fresh database on the local PostgreSQL cluster (dropped at the end), two
`gunicorn wsgi:app` (2 processes each, START_WORKERS=0, a DATA_DIR of their own, one shared
EXHIBIT_STORE, the same SECRET_KEY) and one `flask worker`. It seeds the demo data, a few hundred
more cases and one account per simulated member, then checks what « Plusieurs serveurs » promises
(a session opened on one server works on the other; a case written through one is found by the
other's search within 10 s, twice; an upload through one downloads byte-identical through the
other; no exhibit bytes in either DATA_DIR) and runs the load: each member logs in and mixes the
case list, case pages, searches, new timeline events and small PNG uploads, alternating servers.

It prints requests, errors and p50/p95 per page, and stops everything it started, also on Ctrl-C
or an error. With --fault, errors are allowed only while the fault lasts (and 5 s after): before
and after, every request must succeed, with no restart of anything but what the fault killed; then
`evidence verify` must find no exhibit missing or altered.

Exit status: 1 when a request failed (outside a fault) or a check did not hold, 2 when the set-up
failed; never because of timings (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("LOAD_PG_URL", "postgresql://constat:constat@127.0.0.1:5432/postgres")
PAGES = ("login", "list", "case", "search", "event", "upload")
# Weights of what a member does next (the case page also comes before every event and upload).
MIX = (("list", 25), ("case", 30), ("search", 25), ("event", 12), ("upload", 8))
SEARCHES = ("erreur technique", "préfecture", "rendez-vous", "titre de séjour", "injonction", "capture",
            "récépissé", "ANEF", "Nom12", "BEN-2024", "refus", "CCC")
FAULTS = ("pg-restart", "kill-server")
FAULT_GRACE = 5.0  # seconds after a fault's end in which errors are still the fault's
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class SetupError(Exception):
    """The stack could not be started: nothing was measured."""


# --- processes --------------------------------------------------------------------------------

class Stack:
    """Everything this run started, stopped in reverse order whatever happens."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.database: str | None = None

    def start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        # Its own session: stopping it stops its children (gunicorn's workers) and nothing else.
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=True)
        log.close()
        self.processes.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for _name, proc in reversed(self.processes):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for _name, proc in reversed(self.processes):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.processes.clear()
        if self.database:
            try:
                _admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 - say it and go on cleaning
                print(f"base {self.database} non supprimée : {exc}", file=sys.stderr)
            self.database = None


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _postgres_ready() -> None:
    """Reach the local cluster, starting it when it is down and we may (root, as in CI)."""
    try:
        _admin("SELECT 1")
        return
    except Exception:  # noqa: BLE001, S110 - down: started below when we may
        pass
    if os.geteuid() == 0 and shutil.which("pg_ctlcluster"):
        versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
        subprocess.run(["pg_ctlcluster", versions[-1].name, "main", "start"], check=False)  # noqa: S603,S607
        for _ in range(30):
            try:
                _admin("SELECT 1")
                return
            except Exception:  # noqa: BLE001
                time.sleep(1)
    raise SetupError(f"PostgreSQL injoignable par {PG_ADMIN_URL.split('@')[-1]} (LOAD_PG_URL) : démarrez-le "
                     "et créez le rôle comme le fait .ci/run (CREATE ROLE constat LOGIN PASSWORD 'constat' CREATEDB).")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, stack: Stack, name: str, timeout: float = 90) -> dict:
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = dict(stack.processes)[name]
        if proc.poll() is not None:
            raise SetupError(f"{name} s'est arrêté au démarrage :\n{stack.log_tail(name)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.5)
    raise SetupError(f"{name} ne répond pas sur /healthz :\n{stack.log_tail(name)}")


def start_nginx(stack: Stack, workdir: Path, ports: list[int]) -> int:
    """nginx with the repository's sample site (deploy/nginx-constat.conf), only its addresses,
    certificate and log folder changed, in front of the two servers; returns its HTTPS port."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SetupError("--nginx : nginx absent (apt-get install nginx).")
    folder = workdir / "nginx"
    folder.mkdir()
    done = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",  # noqa: S603,S607
                           "-subj", "/CN=constat.example.org", "-keyout", str(folder / "key.pem"),
                           "-out", str(folder / "cert.pem")], capture_output=True, check=False)
    if done.returncode:
        raise SetupError("--nginx : certificat de test impossible (openssl).")
    https, http_port = _free_port(), _free_port()
    site = (ROOT / "deploy" / "nginx-constat.conf").read_text()
    servers = iter(ports)
    site = re.sub(r"server 10\.0\.0\.\d+:8000", lambda _m: f"server 127.0.0.1:{next(servers)}", site)
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = re.sub(r"/etc/letsencrypt/live/[^;]*/fullchain\.pem", str(folder / "cert.pem"), site)
    site = re.sub(r"/etc/letsencrypt/live/[^;]*/privkey\.pem", str(folder / "key.pem"), site)
    site = site.replace("/var/log/nginx/", f"{folder}/")
    (folder / "site.conf").write_text(site)
    temp = " ".join(f"{kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log {folder}/access.log;\n  {temp}\n"
        f"  include {ROOT / 'deploy' / 'nginx-log-format.conf'};\n  include {folder / 'site.conf'};\n}}\n")
    stack.start("nginx", [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
                dict(os.environ))
    for _ in range(50):
        if dict(stack.processes)["nginx"].poll() is not None:
            raise SetupError(f"nginx s'est arrêté :\n{stack.log_tail('nginx')}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", https)) == 0:
                return https
        time.sleep(0.2)
    raise SetupError("nginx ne répond pas.")


# --- seeding (in this process, on the run's database) ------------------------------------------

@dataclass
class Seeded:
    password: str
    members: list[tuple[str, int]]  # (email, org id)
    cases: dict[int, list[int]]     # org id -> case ids


def seed(env: dict, extra_cases: int, members: int) -> Seeded:
    """Demo data, `extra_cases` more cases bulk-inserted into demo-lyon, and one volunteer or lawyer
    account per simulated member, alternating associations."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from sqlalchemy import func, select, text

    from app import create_app
    from app.auth import services as accounts
    from app.auth.models import Organisation
    from app.cases.models import Case, Person
    from app.config import Config
    from app.demo import seed as demo_seed
    from app.extensions import db
    from exports import seed as bulk_seed

    app = create_app(Config())
    password = env["DEMO_PASSWORD"]
    with app.app_context():
        demo_seed(password, cases_per_org=12)  # timelines and screenshots; the bulk rows give volume
        db.session.commit()
        lyon = db.session.scalar(select(Organisation).where(Organisation.slug == "demo-lyon"))
        paris = db.session.scalar(select(Organisation).where(Organisation.slug == "demo-paris"))
        first = max(db.session.scalar(select(func.max(Case.id))) or 0,
                    db.session.scalar(select(func.max(Person.id))) or 0) + 1
        bulk_seed(lyon.id, extra_cases, events_per_case=3, first_id=first)
        # Explicit ids were inserted: move the sequences past them, or the next case collides.
        for table in ("persons", "cases"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                    f"(SELECT max(id) FROM {table}))"))  # fixed table names
        accounts_made = []
        for n in range(members):
            org = (lyon, paris)[n % 2]
            role = ("volunteer", "lawyer")[(n // 2) % 2]
            email = f"charge{n:02d}@{org.slug}.test"
            accounts.create_user(email, org, role, password, full_name=f"Membre {n:02d}")
            accounts_made.append((email, org.id))
        db.session.commit()
        cases = {org.id: list(db.session.scalars(select(Case.id).where(Case.org_id == org.id)))
                 for org in (lyon, paris)}
        db.session.remove()
        db.engine.dispose()
    return Seeded(password, accounts_made, cases)


# --- HTTP -------------------------------------------------------------------------------------

class Member:
    """One browser: its cookies, sent to whichever server it talks to."""

    def __init__(self, ports: list[int], tls: bool = False):
        self.ports = ports
        self.tls = tls
        # Like a browser: the last page's address goes as Referer, unless its Referrer-Policy
        # forbids it (Flask-WTF checks the Referer of HTTPS form posts).
        self.last_page: str | None = None
        self.send_referrer = True
        self.cookies: dict[str, str] = {}
        self.turn = 0

    def next_port(self) -> int:
        self.turn += 1
        return self.ports[self.turn % len(self.ports)]

    def request(self, method: str, path: str, port: int, body: bytes | None = None,
                content_type: str | None = None, timeout: float = 60) -> tuple[int, dict, bytes]:
        headers = {"Connection": "close", "User-Agent": "constat-load"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        if self.last_page and self.send_referrer:
            headers["Referer"] = self.last_page
        if self.tls:
            import ssl

            # nginx's self-signed certificate of this run (deploy/nginx-constat.conf, --nginx).
            context = ssl._create_unverified_context()  # noqa: S323 - loopback, throwaway certificate
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if method == "GET" and response.status == 200:
                self.last_page = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}{path}"
                self.send_referrer = response.headers.get("Referrer-Policy", "") != "no-referrer"
            for value in response.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(value)
                for name, morsel in jar.items():
                    if morsel["expires"] and "1970" in morsel["expires"] or morsel.value == "":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return response.status, dict(response.headers), data
        finally:
            conn.close()

    def token(self, page: bytes) -> str:
        match = TOKEN.search(page.decode("utf-8", "replace"))
        if not match:
            raise ValueError("pas de jeton CSRF dans la page")
        return match.group(1) or match.group(2)

    def login(self, email: str, password: str, port: int) -> int:
        status, _h, page = self.request("GET", "/login", port)
        if status != 200:
            return status
        form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": self.token(page)})
        status, _h, _b = self.request("POST", "/login", port, form.encode(), "application/x-www-form-urlencoded")
        return status


def multipart(fields: dict[str, str], filename: str, content: bytes, mime: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
              f"Content-Type: {mime}\r\n\r\n".encode())
    out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def small_png(rng: random.Random) -> bytes:
    """A small screenshot-like PNG, different every time (else the upload is a duplicate)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 200), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), f"Erreur technique {rng.randrange(10**9)}", fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- measurements -----------------------------------------------------------------------------

@dataclass
class Results:
    times: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PAGES})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PAGES, 0))
    examples: list[str] = field(default_factory=list)
    # (when it ended, monotonic; what it was): errors are judged against a fault's window.
    error_log: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.times[page].append(seconds)
            if not ok:
                self.errors[page] += 1
                self.error_log.append((time.monotonic(), f"{page}: {detail}"))
                if len(self.examples) < 10:
                    self.examples.append(f"{page}: {detail}")


def timed(results: Results, page: str, expected: tuple[int, ...], member: Member, method: str, path: str,
          port: int, data: bytes | None = None, content_type: str | None = None) -> tuple[int, dict, bytes] | None:
    """One request, measured and counted; its answer when it was the expected one."""
    start = time.perf_counter()
    try:
        status, headers, body = member.request(method, path, port, data, content_type)
    except Exception as exc:  # noqa: BLE001 - a failed request is an error of the run, counted
        results.add(page, time.perf_counter() - start, False, f"{type(exc).__name__}: {exc}")
        return None
    ok = status in expected
    if ok and status == 302 and "/login" in headers.get("Location", ""):
        ok = False  # sent back to the login page: the session did not hold
    # The form's own error messages say why a POST was refused.
    reasons = re.findall(r'<p class="error"[^>]*>([^<]{0,160})', body.decode("utf-8", "replace")) if not ok else []
    if status == 503 and "Service momentanément indisponible" in body.decode("utf-8", "replace"):
        reasons = ["page française « Service momentanément indisponible »"]
    results.add(page, time.perf_counter() - start, ok,
                f"HTTP {status} {headers.get('Location', '')} {' / '.join(reasons[:3])}".strip())
    return (status, headers, body) if ok else None


def member_loop(n: int, email: str, password: str, case_ids: list[int], ports: list[int], until: float,
                think: float, results: Results, tls: bool = False) -> None:
    rng = random.Random(n)
    # Members arrive one after the other, as in an office opening, not all in the same second.
    time.sleep(n * 0.25)
    member = Member(ports, tls)
    port = member.next_port()
    start = time.perf_counter()
    status = member.login(email, password, port)
    results.add("login", time.perf_counter() - start, status == 302, f"HTTP {status}")
    if status != 302:
        return
    actions = [a for a, _w in MIX]
    weights = [w for _a, w in MIX]
    while time.monotonic() < until:
        action = rng.choices(actions, weights)[0]
        port = member.next_port()
        case_id = rng.choice(case_ids)
        if action == "list":
            query = rng.choice(["", "?status=OUVERT", "?page=2", "?prefecture=69"])
            timed(results, "list", (200,), member, "GET", f"/cases/{query}", port)
        elif action == "search":
            q = urllib.parse.urlencode({"q": rng.choice(SEARCHES)})
            timed(results, "search", (200,), member, "GET", f"/search?{q}", port)
        else:
            page = timed(results, "case", (200,), member, "GET", f"/cases/{case_id}", port)
            if page is not None and action in ("event", "upload"):
                try:
                    token = member.token(page[2])
                except ValueError as exc:  # a case page without its forms is an error of the run
                    results.add(action, 0.0, False, str(exc))
                    continue
                port = member.next_port()  # the form is posted to the other server
                if action == "event":
                    form = urllib.parse.urlencode({
                        "csrf_token": token, "date": "2025-03-01", "type": "TENTATIVE",
                        "description": f"Tentative de connexion, erreur technique ({rng.randrange(10**6)}).",
                        "reference": ""}).encode()
                    timed(results, "event", (302,), member, "POST", f"/cases/{case_id}/events", port, form,
                          "application/x-www-form-urlencoded")
                else:
                    body, ctype = multipart({"csrf_token": token, "description": "Capture de l'erreur",
                                             "captured_at": "2025-03-01"}, "capture.png", small_png(rng), "image/png")
                    timed(results, "upload", (302,), member, "POST", f"/cases/{case_id}/exhibits", port, body, ctype)
        if think:
            time.sleep(rng.uniform(0.2 * think, 1.8 * think))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# --- faults during the load ---------------------------------------------------------------------

@dataclass
class Fault:
    kind: str
    start: float = 0.0
    end: float = 0.0
    detail: str = ""
    failed: str = ""


def inject_fault(fault: Fault, at: float, stack: Stack, restart_server) -> None:
    """At `at` (monotonic), break something the way production breaks, and bring it back."""
    time.sleep(max(0.0, at - time.monotonic()))
    fault.start = time.monotonic()
    try:
        if fault.kind == "pg-restart":
            versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
            done = subprocess.run(["pg_ctlcluster", versions[-1].name, "main", "restart"],  # noqa: S603,S607
                                  capture_output=True, text=True, check=False)
            if done.returncode:
                fault.failed = f"pg_ctlcluster restart : {done.stderr.strip()[-300:]}"
            fault.detail = "PostgreSQL redémarré (pg_ctlcluster restart)"
        else:  # kill-server: SIGKILL to the whole gunicorn of server A (master and workers), mid-request
            name, proc = next((n, p) for n, p in stack.processes if n == "serveur-a")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            restart_server()
            fault.detail = "serveur A tué net (SIGKILL), puis relancé"
    except Exception as exc:  # noqa: BLE001 - said in the report
        fault.failed = f"{type(exc).__name__}: {exc}"
    fault.end = time.monotonic()


def judge_fault(fault: Fault, results: Results, env: dict) -> list[str]:
    """Errors are allowed only while the fault lasts (plus FAULT_GRACE); no exhibit may be lost or
    half-written."""
    failures = [f"panne non provoquée : {fault.failed}"] if fault.failed else []
    during = [d for t, d in results.error_log if fault.start <= t <= fault.end + FAULT_GRACE]
    after = [d for t, d in results.error_log if t > fault.end + FAULT_GRACE]
    before = [d for t, d in results.error_log if t < fault.start]
    french = sum("page française" in d for d in during)
    print(f"panne : {fault.detail}, {fault.end - fault.start:.1f} s ; erreurs avant : {len(before)}, "
          f"pendant (+{FAULT_GRACE:.0f} s) : {len(during)} (dont {french} page(s) 503 en français), après : {len(after)}")
    if before or after:
        failures.append(f"{len(before) + len(after)} erreur(s) hors de la panne : le service ne s'est pas rétabli seul "
                        f"({(before + after)[0]})")
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "evidence", "verify"], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True, check=False)
    summary = (done.stdout + done.stderr).strip().splitlines()
    figures = re.search(r"(\d+) manquant\(s\), (\d+) altéré\(s\), (\d+) orphelin", done.stdout + done.stderr)
    print(f"pièces après la panne : {summary[-1] if summary else '?'}")
    if figures is None:
        failures.append("evidence verify n'a pas donné son bilan")
    elif int(figures[1]) or int(figures[2]):
        failures.append(f"pièces manquantes ou altérées après la panne : {figures[1]} / {figures[2]}")
    # An orphan is a file whose upload never committed (killed before the commit): never an exhibit,
    # removed by `evidence verify --remove-orphans` after an hour.
    return failures


# --- the checks of « Plusieurs serveurs » -------------------------------------------------------

def check_servers(seeded: Seeded, ports: list[int], store: Path, data_dirs: list[Path]) -> list[str]:
    """What the README promises of two servers; returns the failures (empty when all hold)."""
    failures = []
    a, b = ports
    email, org_id = seeded.members[0]
    member = Member(ports)
    if member.login(email, seeded.password, a) != 302:
        return ["connexion refusée sur le premier serveur"]
    status, headers, _b = member.request("GET", "/cases/", b)
    session_ok = status == 200
    print(f"  session ouverte sur :{a}, utilisée sur :{b} : {'oui' if session_ok else f'non (HTTP {status})'}")
    if not session_ok:
        failures.append("la session du premier serveur n'est pas reconnue par le second")

    for attempt in (1, 2):
        word = "Kerlouan" + "".join(random.choice("bcdfghjklmnpqrstvz") for _ in range(6))
        status, _h, page = member.request("GET", "/cases/new", a)
        form = urllib.parse.urlencode({
            "csrf_token": member.token(page), "version": "", "last_name": word, "first_name": "Awa",
            "prefecture": "69", "demarche": "RENOUV", "status": "OUVERT", "primary_blocage": "ACC-AUTH",
            "narrative": f"Dossier de contrôle {word} : erreur technique à chaque tentative.",
            "volunteer_id": "", "lawyer_id": ""}).encode()
        status, headers, body = member.request("POST", "/cases/new", a, form, "application/x-www-form-urlencoded")
        location = headers.get("Location", "")
        match = re.search(r"/cases/(\d+)", location)
        if status != 302 or not match:
            failures.append(f"création de dossier refusée sur le premier serveur (HTTP {status})")
            detail = re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]{0,160})', body.decode("utf-8", "replace"))
            print(f"  création refusée : HTTP {status} {detail[:3]}")
            break
        case_path = f"/cases/{match.group(1)}"
        written = time.monotonic()
        found_after = None
        while time.monotonic() - written < 10:
            status, _h, page = member.request("GET", "/search?" + urllib.parse.urlencode({"q": word}), b)
            if status == 200 and f'{case_path}"' in page.decode("utf-8", "replace"):
                found_after = time.monotonic() - written
                break
            time.sleep(0.1)
        if found_after is None:
            print(f"  recherche ({attempt}/2) : dossier écrit sur :{a}, introuvable sur :{b} après 10 s")
            failures.append(f"dossier écrit sur un serveur introuvable par la recherche de l'autre ({attempt}/2)")
        else:
            print(f"  recherche ({attempt}/2) : dossier écrit sur :{a}, trouvé sur :{b} en {found_after:.2f} s")

    case_id = seeded.cases[org_id][0]
    content = small_png(random.Random(7))
    status, _h, page = member.request("GET", f"/cases/{case_id}", a)
    body, ctype = multipart({"csrf_token": member.token(page), "description": "contrôle"}, "controle.png",
                            content, "image/png")
    status, _h, _b = member.request("POST", f"/cases/{case_id}/exhibits", a, body, ctype)
    digest = hashlib.sha256(content).hexdigest()
    status_page, _h, page = member.request("GET", f"/cases/{case_id}", b)
    ids = re.findall(r'/exhibits/(\d+)"', page.decode("utf-8", "replace"))
    identical = False
    for exhibit_id in sorted(set(ids), key=int, reverse=True):
        st, _h, data = member.request("GET", f"/exhibits/{exhibit_id}", b)
        if st == 200 and hashlib.sha256(data).hexdigest() == digest:
            identical = True
            break
    print(f"  pièce envoyée sur :{a}, téléchargée sur :{b} à l'octet près : {'oui' if identical else 'non'}")
    if not identical:
        failures.append("la pièce envoyée sur un serveur n'est pas servie à l'identique par l'autre")
    stored = store / digest[:2] / digest[2:4] / digest
    if not stored.is_file():
        failures.append("la pièce n'est pas dans EXHIBIT_STORE")
    return failures


def data_dirs_hold_no_exhibit(data_dirs: list[Path], store: Path) -> list[str]:
    """No exhibit or thumbnail under a server's DATA_DIR: compare every file's digest with the store."""
    digests = {p.name for p in store.rglob("*") if p.is_file()}
    thumbs = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (store.parent / "thumbnails").rglob("*.png")}
    problems = []
    for data_dir in data_dirs:
        for path in data_dir.rglob("*"):
            if not path.is_file():
                continue
            if path.name in digests or hashlib.sha256(path.read_bytes()).hexdigest() in digests | thumbs:
                problems.append(f"{path} : copie d'une pièce ou d'une vignette dans DATA_DIR")
    return problems


# --- main -------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="durée de la charge (défaut 60)")
    parser.add_argument("--users", type=int, default=16, help="membres simulés (défaut 16)")
    parser.add_argument("--cases", type=int, default=400, help="dossiers ajoutés aux données de démo (défaut 400)")
    parser.add_argument("--nginx", action="store_true",
                        help="la charge passe par nginx (deploy/nginx-constat.conf, HTTPS) au lieu d'alterner les serveurs")
    parser.add_argument("--think", type=float, default=0.5,
                        help="temps de réflexion moyen entre deux pages, en secondes (défaut 0.5 ; 0 = sans pause)")
    parser.add_argument("--fault", choices=FAULTS, default=None,
                        help="une panne au tiers de la charge : pg-restart (PostgreSQL redémarré ; root), "
                             "kill-server (serveur A tué net en pleine charge, puis relancé)")
    args = parser.parse_args()

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    # Ctrl-C stops the run even when started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="constat-load-"))
    stack = Stack(workdir)
    try:
        return run(args, stack, workdir)
    except SetupError as exc:
        print(f"mise en place impossible : {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrompu.", file=sys.stderr)
        return 130
    finally:
        started = time.monotonic()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"arrêté : serveurs, worker et base supprimés ({time.monotonic() - started:.0f} s).")


def run(args, stack: Stack, workdir: Path) -> int:
    _postgres_ready()
    database = f"constat_load_{os.getpid()}_{secrets.token_hex(3)}"
    _admin(f'CREATE DATABASE "{database}"')
    stack.database = database
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    shared = workdir / "partage"
    store = shared / "exhibits"
    store.mkdir(parents=True)
    data_dirs = {name: workdir / name for name in ("serveur-a", "serveur-b", "worker")}
    common = {**os.environ, "DATABASE_URL": f"{base}/{database}", "SECRET_KEY": secrets.token_hex(32),
              "EXHIBIT_STORE": str(store), "START_WORKERS": "0", "DEMO_PASSWORD": secrets.token_urlsafe(12),
              "FLASK_APP": "wsgi", "SMTP_HOST": "", "PYTHONUNBUFFERED": "1",
              "TRUSTED_PROXIES": "1" if args.nginx else "0"}
    env = {name: {**common, "DATA_DIR": str(path)} for name, path in data_dirs.items()}

    t0 = time.monotonic()
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env["worker"],  # noqa: S603
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SetupError("migrations : " + done.stderr[-2000:])
    seeded = seed(env["worker"], args.cases, args.users)
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "search", "reindex"], cwd=ROOT,  # noqa: S603
                          env=env["worker"], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SetupError("search reindex : " + done.stderr[-2000:])
    total_cases = sum(len(v) for v in seeded.cases.values())
    print(f"base {database} : {total_cases} dossiers, {len(seeded.members)} comptes "
          f"(mise en place {time.monotonic() - t0:.0f} s)")

    ports = [_free_port(), _free_port()]

    def start_server(name: str, port: int) -> None:
        stack.start(name, [str(BIN / "gunicorn"), "--workers", "2", "--threads", "4", "--timeout", "120",
                           "--bind", f"127.0.0.1:{port}", "wsgi:app"], env[name])

    for name, port in zip(("serveur-a", "serveur-b"), ports, strict=True):
        start_server(name, port)
    stack.start("worker", [str(BIN / "flask"), "--app", "wsgi", "worker"], env["worker"])
    for name, port in zip(("serveur-a", "serveur-b"), ports, strict=True):
        health = _wait_healthy(port, stack, name)
        print(f"{name} :{port} /healthz : {health.get('status')} {health.get('backends', {})}")

    load_ports = ports
    if args.nginx:
        load_ports = [start_nginx(stack, workdir, ports)]
        print(f"nginx :{load_ports[0]} (HTTPS) devant :{ports[0]} et :{ports[1]}")
    print("vérifications « Plusieurs serveurs » :")
    failures = check_servers(seeded, ports, store, list(data_dirs.values()))

    results = Results()
    until = time.monotonic() + args.seconds
    threads = []
    for n, (email, org_id) in enumerate(seeded.members):
        thread = threading.Thread(target=member_loop, daemon=True, args=(
            n, email, seeded.password, seeded.cases[org_id], load_ports, until, args.think, results, args.nginx))
        threads.append(thread)
        thread.start()
    print(f"charge : {args.users} membres, {args.seconds:.0f} s, "
          f"{'par nginx (HTTPS)' if args.nginx else 'deux serveurs en alternance'}, "
          f"réflexion moyenne {args.think} s…")
    started = time.monotonic()
    fault = Fault(args.fault) if args.fault else None
    if fault is not None:
        def restart_a() -> None:
            stack.processes[:] = [(n, p) for n, p in stack.processes if n != "serveur-a"]
            start_server("serveur-a", ports[0])
            _wait_healthy(ports[0], stack, "serveur-a")

        injector = threading.Thread(target=inject_fault, daemon=True,
                                    args=(fault, started + args.seconds / 3, stack, restart_a))
        injector.start()
    for thread in threads:
        thread.join(timeout=max(1.0, until - time.monotonic() + 90))
    elapsed = time.monotonic() - started
    if any(t.is_alive() for t in threads):
        failures.append("des membres simulés ne se sont pas arrêtés (requête bloquée plus de 90 s)")
    if fault is not None:
        injector.join(timeout=120)

    for name, proc in stack.processes:
        if proc.poll() is not None:
            failures.append(f"{name} s'est arrêté pendant la charge (code {proc.returncode})")
    failures += data_dirs_hold_no_exhibit([data_dirs["serveur-a"], data_dirs["serveur-b"]], store)

    total = sum(len(v) for v in results.times.values())
    errors = sum(results.errors.values())
    every = [t for v in results.times.values() for t in v]
    print(f"\n{'page':<8} {'requêtes':>9} {'erreurs':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for page in PAGES:
        values = results.times[page]
        print(f"{page:<8} {len(values):>9} {results.errors[page]:>8} "
              f"{percentile(values, 50) * 1000:>8.0f} {percentile(values, 95) * 1000:>8.0f}")
    pages = [t for page in PAGES if page != "login" for t in results.times[page]]
    print(f"{'pages':<8} {len(pages):>9} {errors - results.errors['login']:>8} "
          f"{percentile(pages, 50) * 1000:>8.0f} {percentile(pages, 95) * 1000:>8.0f}   (hors connexion)")
    print(f"{'total':<8} {total:>9} {errors:>8} {percentile(every, 50) * 1000:>8.0f} "
          f"{percentile(every, 95) * 1000:>8.0f}   ({total / elapsed:.1f} requêtes/s)")
    for example in results.examples:
        print(f"  erreur : {example}")
    if fault is not None:
        failures += judge_fault(fault, results, env["worker"])
    elif errors:
        failures.append(f"{errors} requête(s) en erreur")
    if errors:
        for name, _proc in stack.processes:
            tail = stack.log_tail(name, 20)
            if "Traceback" in tail or "Error" in tail:
                print(f"--- fin du journal de {name} ---\n{tail}")
    for failure in failures:
        print(f"ÉCHEC : {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
