"""Access proven over EVERY route of app.url_map: anonymous visitors, the four roles (README
"Rôles", app/auth/permissions.py MATRIX) and a member of another association.

A route missing from ENDPOINTS fails the test: whoever adds a route classifies it here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from PIL import Image

from app.auth.models import Role, User
from app.auth.permissions import MATRIX
from app.cases.models import Case, Event
from app.coalitions import services as coalitions
from app.jobs import services as jobs
from app.evidence import services as evidence
from app.evidence.models import Exhibit
from app.extensions import db
from tests import factories
from tests.conftest import csrf_token, login

PUBLIC = "public"  # no login needed
REQUESTER = "requester"  # a member's own object (a background job): 404 to everyone else
MEMBER = "member"  # any logged-in member, whatever the role

# endpoint -> who may use it: PUBLIC, MEMBER, a MATRIX capability, or a tuple (any of them).
ENDPOINTS: dict[str, str | tuple[str, ...]] = {
    "static": PUBLIC,
    "core.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.forgot_password": PUBLIC,
    "auth.reset_password": PUBLIC,  # the signed link is the credential (tests/auth/test_password_reset.py)
    "privacy.notice": PUBLIC,
    "deadlines.calendar_feed": PUBLIC,  # its secret token is the credential (tests/deadlines/test_calendar.py)
    "core.index": MEMBER,
    "auth.logout": MEMBER,
    "auth.second_factor": MEMBER,
    "auth.enrol_totp": MEMBER,
    "auth.account": MEMBER,
    "auth.update_profile": MEMBER,
    "auth.change_password": MEMBER,
    "auth.disable_totp": MEMBER,
    "auth.regenerate_recovery_codes": MEMBER,
    "auth.update_digest": MEMBER,
    "auth.regenerate_calendar": MEMBER,
    "auth.revoke_calendar": MEMBER,
    "auth.end_other_sessions": MEMBER,
    "auth.members": "accounts.manage",
    "auth.create_member": "accounts.manage",
    "auth.deactivate_member": "accounts.manage",
    "auth.reactivate_member": "accounts.manage",
    "auth.reset_member_totp": "accounts.manage",
    "auth.require_totp": "accounts.manage",
    "audit.journal": ("audit.view", "exports.history"),
    "cases.list_cases": "cases.view",
    "cases.show_case": "cases.view",
    "cases.new_case": "cases.edit",
    "cases.edit_case": "cases.edit",
    "cases.add_event": "cases.edit",
    "cases.keepalive": MEMBER,
    "cases.import_cases": "exports.history",  # coordinators and admins
    "search.search": "cases.view",
    "deadlines.index": "deadlines.view",
    "evidence.upload": "exhibits.add",
    "evidence.download": "exhibits.download",
    "evidence.picture": "exhibits.download",
    "evidence.show": "exhibits.download",
    "evidence.withdraw": "exhibits.manage",
    "evidence.renumber": "exhibits.manage",
    "exports.brief": "exports.brief",
    "legal.letter": "letters.draft",
    "legal.letter_sent": "cases.edit",
    "exports.exhibits_zip": "exports.brief",
    "exports.workbook": "exports.anonymised",
    "exports.dossier": "exports.anonymised",
    "exports.dashboard": "dashboard.view",
    "coalitions.index": "coalitions.view",
    "coalitions.dashboard": "coalitions.view",  # and only for member associations (404 otherwise)
    "coalitions.workbook": "coalitions.view",
    "coalitions.dossier": "coalitions.view",
    "coalitions.accept": "coalitions.manage",
    "coalitions.leave": "coalitions.manage",
    "coalitions.invite": "coalitions.manage",
    "coalitions.publish": "coalitions.manage",
    "coalitions.publish_own": "coalitions.manage",
    "jobs.show": REQUESTER,  # the requester only; anyone else 404 (tests/jobs/test_jobs.py)
    "jobs.show_json": REQUESTER,
    "jobs.download": REQUESTER,
    "coalitions.public_stats": PUBLIC,  # 404 until published (tests/coalitions/test_coalitions.py)
    "exports.upload_template": "accounts.manage",  # brief templates: the association's admins
    "exports.delete_template": "accounts.manage",
    "privacy.withdraw_consent": "cases.edit",
    "privacy.undo_withdrawal": "privacy.erase",  # admins, within a day of the withdrawal
    "privacy.legal_hold": "privacy.legal_hold",
    "privacy.person_export": "identity.view",
    "privacy.erase": "privacy.erase",
    "privacy.settings": "privacy.settings",
}
# Same route, other query string, other capability.
VARIANTS: list[tuple[str, dict[str, str], str]] = [
    ("exports.workbook", {"identified": "1"}, "exports.identified"),
]
# Arguments naming an object of an association: another association gets 404.
OBJECT_ARGUMENTS = {"case_id", "exhibit_id", "user_id", "event_id", "slug", "job_id"}


@dataclass
class World:
    case: Case
    event: Event
    exhibit: Exhibit
    target: User  # the member admins (de)activate
    users: dict[Role, User]
    stranger: User  # admin of another association
    coalition_slug: str = "coal-test"  # a coalition the association belongs to (the other one does not)
    job_id: int = 0  # a background job of the association's admin


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def world(org, other_org) -> World:
    users = {role: factories.user(org, role.value) for role in Role}
    case = factories.case(org, users[Role.VOLUNTEER])
    event = factories.event(case, actor=users[Role.VOLUNTEER])
    exhibit = evidence.add_exhibit(case, png_bytes(), "capture.png", users[Role.VOLUNTEER]).exhibit
    coalitions.join(coalitions.create("coal-test", "Coalition de test"), org)
    job = jobs.submit("export.xlsx", users[Role.ADMIN], total=1, filters={}, q="")
    db.session.commit()
    return World(case, event, exhibit, factories.user(org, "volunteer"), users,
                 factories.user(other_org, "admin"), job_id=job.id)


def url_args(rule, world: World) -> dict:
    values = {"case_id": world.case.id, "exhibit_id": world.exhibit.id, "user_id": world.target.id,
              "event_id": world.event.id, "variant": "thumb", "filename": "constat.css", "kind": "prefet",
              "token": "1-" + "A" * 43, "slug": world.coalition_slug, "job_id": world.job_id}
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.rule}: no test object for {missing}; add one to url_args()"
    return {name: values[name] for name in rule.arguments}


@dataclass
class Probe:
    endpoint: str
    method: str
    path: str
    query: dict
    who: str | tuple[str, ...] | None
    rule: object

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")


def requests_of(app, world) -> list[Probe]:
    """A probe for every rule, method and variant; GETs first, POSTs after, logout last."""
    items = []
    for rule in app.url_map.iter_rules():
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **url_args(rule, world))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            items.append(Probe(rule.endpoint, method, path, {}, ENDPOINTS.get(rule.endpoint), rule))
            for endpoint, query, who in VARIANTS:
                if endpoint == rule.endpoint:
                    items.append(Probe(rule.endpoint, method, path, query, who, rule))
    return sorted(items, key=lambda p: (p.endpoint == "auth.logout", p.method != "GET"))


def send(client, probe: Probe, token: str):
    if probe.method == "GET":
        response = client.get(probe.path, query_string=probe.query)
    else:
        response = client.open(probe.path, method=probe.method, query_string=probe.query, data={"csrf_token": token})
    response.close()  # file responses (exhibits, exports) hold an open file
    return response


def allowed(role: Role, who) -> bool:
    if who in (PUBLIC, MEMBER, REQUESTER):
        return True
    capabilities = who if isinstance(who, tuple) else (who,)
    return any(role in MATRIX[c] for c in capabilities)


def to_login(response) -> bool:
    return response.status_code == 302 and response.location.startswith("/login")


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(ENDPOINTS))
    assert not missing, f"routes without an access rule in tests/test_access_matrix.py: {missing}"
    stale = sorted(set(ENDPOINTS) - endpoints)
    assert not stale, f"entries for routes that no longer exist: {stale}"
    for who in list(ENDPOINTS.values()) + [v[2] for v in VARIANTS]:
        for capability in (who if isinstance(who, tuple) else (who,)):
            assert capability in MATRIX or capability in (PUBLIC, MEMBER, REQUESTER), capability


def check_anonymous(app, world) -> list[str]:
    client = app.test_client()
    token = csrf_token(client)
    failures = []
    for probe in requests_of(app, world):
        response = send(client, probe, token)
        if probe.who == PUBLIC:
            if to_login(response) or response.status_code >= 500:
                failures.append(f"anonymous {probe}: public route answered {response.status_code}")
        elif not to_login(response):
            failures.append(f"anonymous {probe}: {response.status_code} instead of a redirect to /login")
    return failures


def check_role(app, world, role: Role) -> list[str]:
    client = app.test_client()
    login(client, world.users[role])
    token = csrf_token(client, "/account/")
    failures = []
    for probe in requests_of(app, world):
        if probe.who == PUBLIC:
            continue
        response = send(client, probe, token)
        status, where = response.status_code, f"{role.value} {probe}"
        if probe.endpoint == "auth.logout":
            if not (to_login(response) and to_login(client.get("/cases/"))):
                failures.append(f"{where} did not end the session")
        elif probe.who == REQUESTER:
            if status == 403 or status >= 500 or to_login(response):
                failures.append(f"{where}: {status} for a member (expected the job or 404)")
        elif allowed(role, probe.who):
            if status in (403, 404) or status >= 500 or to_login(response):
                failures.append(f"{where}: {status} but {probe.who} allows it")
        elif status != 403:
            failures.append(f"{where}: {status} instead of 403 ({probe.who})")
    return failures


def check_stranger(app, world, stranger: User) -> list[str]:
    """Every route naming an object of the association answers 404 to another association."""
    client = app.test_client()
    login(client, stranger)
    token = csrf_token(client, "/account/")
    failures, checked = [], 0
    for probe in requests_of(app, world):
        if not set(probe.rule.arguments) & OBJECT_ARGUMENTS:
            continue
        checked += 1
        response = send(client, probe, token)
        if response.status_code != 404:
            failures.append(f"{stranger.role} of another association: {probe}: {response.status_code}")
    assert checked >= 10
    return failures


def test_access_over_every_route(app, other_org, world):
    """One app and one set of objects for everything (fast): anonymous, each role, strangers."""
    failures = check_anonymous(app, world)
    for role in Role:
        failures += check_role(app, world, role)
    for stranger in (world.stranger, factories.user(other_org, "volunteer")):
        failures += check_stranger(app, world, stranger)
    assert not failures, "\n".join(failures)
    # The empty POSTs changed nothing that matters: the objects are all still there.
    db.session.expire_all()
    assert db.session.get(Case, world.case.id) is not None
    assert db.session.get(Exhibit, world.exhibit.id).withdrawn_at is None
