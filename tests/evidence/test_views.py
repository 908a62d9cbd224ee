"""Exhibit routes through the test client: upload, download headers, pictures, access checks, manage."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from app.evidence import services
from app.evidence.models import Exhibit
from app.evidence.services import add_exhibit
from tests import factories
from tests.conftest import csrf_token, login
from tests.evidence import files
from tests.evidence.helpers import exhibit_count, upload


def test_upload_several_files_then_see_them_on_the_case_page(app, db, logged_in, case):
    event = factories.event(case, "ERREUR")
    response = upload(logged_in, case.id, (files.screenshot(), "erreur-anef.png"), (files.eml(), "ccc.eml"),
                      description="Erreur au paiement", captured_at="2025-03-01", event_id=str(event.id))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cases/{case.id}#pieces")
    exhibits = db.session.scalars(select(Exhibit).order_by(Exhibit.number)).all()
    assert [(e.number, e.original_name, e.event_id) for e in exhibits] == [
        (1, "erreur-anef.png", event.id), (2, "ccc.eml", event.id)]
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Pièce n° 1 ajoutée" in page and "Pièce n° 2 ajoutée" in page
    assert "Pièce n° <span class=\"exhibit-number\">1</span>" in page
    assert exhibits[0].sha256[:16] in page
    assert "lecture en cours" in page and "texte lu" in page
    assert "01/03/2025" in page
    assert 'accept="image/*,application/pdf,.txt,.eml,.heic"' in page and 'capture="environment"' in page
    assert "data-dropzone" in page


def test_same_file_again_tells_the_volunteer(app, db, logged_in, case):
    upload(logged_in, case.id, (files.png(), "a.png"))
    response = upload(logged_in, case.id, (files.png(), "encore.png"))
    assert response.status_code == 302
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "déjà dans le dossier (pièce n° 1)" in page
    assert exhibit_count(db) == 1


def test_mixed_batch_keeps_the_good_files_and_names_the_refused_one(app, db, logged_in, case):
    response = upload(logged_in, case.id, (files.png(), "bonne.png"), (files.HTML, "piege.jpg"))
    assert response.status_code == 302
    page = logged_in.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "« piege.jpg » refusé" in page and "Pièce n° 1 ajoutée" in page
    assert exhibit_count(db) == 1


def test_upload_without_a_file_says_so(app, db, logged_in, case):
    response = upload(logged_in, case.id)
    assert response.status_code == 422
    assert "Choisissez au moins un fichier" in response.get_data(as_text=True)


def test_upload_needs_the_csrf_token(app, db, logged_in, case):
    import io

    response = logged_in.post(f"/cases/{case.id}/exhibits", data={"file": (io.BytesIO(files.png()), "a.png")},
                              content_type="multipart/form-data")
    assert response.status_code == 400
    assert exhibit_count(db) == 0


def test_download_gives_back_the_original_bytes_as_a_sandboxed_attachment(app, db, logged_in, case, volunteer):
    content = files.screenshot(extra="Référence : ANEF-69-2025-000042")
    exhibit = add_exhibit(case, content, "capture écran.png", volunteer).exhibit
    db.session.commit()
    response = logged_in.get(f"/exhibits/{exhibit.id}")
    assert response.status_code == 200
    assert response.data == content
    assert hashlib.sha256(response.data).hexdigest() == exhibit.sha256
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "piece-01-capture" in response.headers["Content-Disposition"]
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["ETag"] == f'"{exhibit.sha256}"'
    assert [c.action for c in services.custody_of(exhibit)] == ["added", "downloaded"]
    assert services.custody_of(exhibit)[-1].actor_id == volunteer.id


def test_download_refuses_altered_bytes(app, db, logged_in, case, volunteer):
    import os

    from app.evidence.storage import store

    exhibit = add_exhibit(case, files.png(), "a.png", volunteer).exhibit
    db.session.commit()
    path = store().path_for(exhibit.sha256)
    os.chmod(path, 0o644)
    path.write_bytes(files.png(color="red"))
    response = logged_in.get(f"/exhibits/{exhibit.id}")
    assert response.status_code == 500
    assert "altéré" in response.get_data(as_text=True)
    assert response.data != files.png(color="red")


def test_thumbnail_preview_and_fiche(app, db, logged_in, case, volunteer):
    from io import BytesIO

    from PIL import Image

    shot = add_exhibit(case, files.screenshot(), "a.png", volunteer).exhibit
    pdf = add_exhibit(case, files.text_pdf(["Courrier de la préfecture"]), "courrier.pdf", volunteer).exhibit
    note = add_exhibit(case, b"Ticket 123", "ticket.txt", volunteer).exhibit
    db.session.commit()
    for exhibit, variant, longest in ((shot, "thumb", 320), (shot, "preview", 1280), (pdf, "thumb", 320)):
        response = logged_in.get(f"/exhibits/{exhibit.id}/{variant}.png")
        assert response.status_code == 200, variant
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
        with Image.open(BytesIO(response.data)) as img:
            assert max(img.size) == longest
    assert logged_in.get(f"/exhibits/{note.id}/thumb.png").status_code == 404
    page = logged_in.get(f"/exhibits/{shot.id}/fiche").get_data(as_text=True)
    assert shot.sha256 in page and "Chaîne de conservation" in page and "consultée" in page
    assert [c.action for c in services.custody_of(shot)] == ["added", "viewed"]


@pytest.mark.parametrize(("content", "name"), [
    (files.heic(), "IMG_0001.heic"), (files.webp(), "capture.webp"), (files.jpeg(800, 600), "photo.jpg"),
    (files.scanned_pdf(), "scan.pdf"),
])
def test_every_picture_type_gets_a_thumbnail(app, db, logged_in, case, volunteer, content, name):
    from io import BytesIO

    from PIL import Image

    exhibit = add_exhibit(case, content, name, volunteer).exhibit
    db.session.commit()
    response = logged_in.get(f"/exhibits/{exhibit.id}/thumb.png")
    assert response.status_code == 200
    with Image.open(BytesIO(response.data)) as img:
        assert img.format == "PNG" and 0 < max(img.size) <= 320


# --- access -----------------------------------------------------------------------------------

ROUTES = [
    ("get", "/exhibits/{id}"),
    ("get", "/exhibits/{id}/thumb.png"),
    ("get", "/exhibits/{id}/preview.png"),
    ("get", "/exhibits/{id}/fiche"),
    ("post", "/exhibits/{id}/withdraw"),
    ("post", "/cases/{case}/exhibits"),
    ("post", "/cases/{case}/exhibits/order"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_another_associations_exhibit_is_404(app, db, client, other_org, case, volunteer, method, route):
    exhibit = add_exhibit(case, files.png(), "a.png", volunteer).exhibit
    db.session.commit()
    stranger = factories.user(other_org, "admin")
    login(client, stranger)
    url = route.format(id=exhibit.id, case=case.id)
    data = {"csrf_token": csrf_token(client, "/cases/"), "reason": "x"} if method == "post" else None
    response = getattr(client, method)(url, data=data)
    assert response.status_code == 404
    assert [c.action for c in services.custody_of(exhibit)] == ["added"]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_missing_exhibit_is_404(app, db, logged_in, method, route):
    data = {"csrf_token": csrf_token(logged_in, "/cases/")} if method == "post" else None
    assert getattr(logged_in, method)(route.format(id=999, case=999), data=data).status_code == 404


@pytest.mark.parametrize(("role", "method", "route", "status"), [
    ("coordinator", "get", "/exhibits/{id}", 403),
    ("coordinator", "get", "/exhibits/{id}/thumb.png", 403),
    ("coordinator", "post", "/cases/{case}/exhibits", 403),
    ("volunteer", "post", "/exhibits/{id}/withdraw", 403),
    ("volunteer", "post", "/cases/{case}/exhibits/order", 403),
])
def test_roles(app, db, client, org, case, volunteer, role, method, route, status):
    exhibit = add_exhibit(case, files.png(), "a.png", volunteer).exhibit
    db.session.commit()
    login(client, factories.user(org, role))
    data = {"csrf_token": csrf_token(client, "/cases/"), "reason": "x"} if method == "post" else None
    assert getattr(client, method)(route.format(id=exhibit.id, case=case.id), data=data).status_code == status
    assert exhibit_count(db) == 1 and db.session.get(Exhibit, exhibit.id).withdrawn_at is None


def test_coordinator_sees_the_list_without_contents(app, db, client, org, case, volunteer):
    exhibit = add_exhibit(case, b"Texte personnel du courrier", "lettre.txt", volunteer, description="Lettre").exhibit
    db.session.commit()
    login(client, factories.user(org, "coordinator"))
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Pièce n° <span class=\"exhibit-number\">1</span>" in page
    assert "Texte personnel du courrier" not in page
    assert f"/exhibits/{exhibit.id}" not in page
    assert "Ajouter des pièces" not in page


def test_lawyer_withdraws_and_renumbers(app, db, client, org, case, volunteer):
    a, b, c = (add_exhibit(case, files.png(color=x), f"{x}.png", volunteer).exhibit for x in ("red", "lime", "navy"))
    db.session.commit()
    lawyer = factories.user(org, "lawyer")
    login(client, lawyer)
    token = csrf_token(client, f"/cases/{case.id}")
    response = client.post(f"/exhibits/{a.id}/withdraw", data={"csrf_token": token, "reason": ""})
    assert response.status_code == 302 and db.session.get(Exhibit, a.id).withdrawn_at is None
    response = client.post(f"/exhibits/{a.id}/withdraw", data={"csrf_token": token, "reason": "Capture illisible"})
    assert response.status_code == 302
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Pièce n° 1 retirée" in page and "Pièces retirées (1)" in page and "Capture illisible" in page
    response = client.post(f"/cases/{case.id}/exhibits/order",
                           data={"csrf_token": token, f"position-{c.id}": "1", f"position-{b.id}": "2"})
    assert response.status_code == 302
    db.session.expire_all()
    assert [(e.id, e.number) for e in services.active_exhibits(case)] == [(c.id, 1), (b.id, 2)]
    # A withdrawn exhibit is still reachable by those who manage exhibits, not by volunteers.
    assert client.get(f"/exhibits/{a.id}/fiche").status_code == 200
    other_client = app.test_client()
    login(other_client, volunteer)
    assert other_client.get(f"/exhibits/{a.id}").status_code == 404
