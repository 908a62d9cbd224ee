"""The web import (issue 14): upload, preview, confirm; all or nothing, every problem named."""

import io
import re

from sqlalchemy import func, select

from app.cases.models import Case, Event
from app.extensions import db as _db
from tests import factories
from tests.cases.test_importer import HYPERLINK, row, write_csv, write_xlsx, write_xlsx_text_cells
from tests.conftest import csrf_token, login


def count(model):
    return _db.session.scalar(select(func.count(model.id)))


def upload(client, path, token):
    with path.open("rb") as fh:
        return client.post("/cases/import", data={"csrf_token": token, "file": (io.BytesIO(fh.read()), path.name)},
                           content_type="multipart/form-data")


def coordinator_client(app, org):
    client = app.test_client()
    login(client, factories.user(org, "coordinator"))
    return client, csrf_token(client, "/cases/import")


def test_bad_file_refused_whole_with_every_problem_by_sheet_row_and_column(app, org, tmp_path):
    client, token = coordinator_client(app, org)
    path = write_xlsx(tmp_path / "bad.xlsx", [
        row(**{"Référence": "A-1", "Nom": "Traoré"}),
        row(**{"Préfecture": "", "Statut": "inconnu"}),
        row(**{"Date de naissance": "31/02/1990"}),
    ], events=[["A-1", "pas une date", "CCC", ""], ["Z-9", "01/02/2025", "CCC", ""]])
    response = upload(client, path, token)
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page
    assert "Import refusé : 5 problèmes, rien n'a été enregistré" in page
    cells = [re.sub(r"\s+", " ", c) for c in re.findall(r"<tr><td>(.*?)</td></tr>", page, re.S)]
    assert len(cells) == 5
    assert any("Cas</td><td>3</td><td>Préfecture" in c for c in cells)
    assert any("Cas</td><td>3</td><td>Statut" in c for c in cells)
    assert any("Cas</td><td>4</td><td>Date de naissance" in c for c in cells)
    assert any("Chronologie</td><td>2</td><td>Date" in c for c in cells)
    assert any("Chronologie</td><td>3</td><td>Référence" in c for c in cells)
    assert count(Case) == 0
    # Nothing left to confirm: the refused file is not kept.
    confirm = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert confirm.status_code == 302 and count(Case) == 0
    assert not list((app.config["DATA_DIR"] / "imports").iterdir())


def test_preview_then_confirm_imports_text_starting_with_equals_literally(app, org, tmp_path):
    client, token = coordinator_client(app, org)
    path = write_xlsx_text_cells(tmp_path / "ok.xlsx", [
        row(**{"Référence": "LYO-2020-0001", "Nom": "Konaté", "Récit": HYPERLINK}), row()])
    response = upload(client, path, token)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>2 dossiers</strong>" in page and "LYO-2020-0001" in page and "69 – Rhône" in page
    assert "Konaté" not in page  # the preview never shows identity (coordinators may not see it)
    assert count(Case) == 0
    response = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert response.status_code == 302 and response.location.endswith("/cases/")
    assert count(Case) == 2
    narrative = _db.session.scalar(select(Case.narrative).where(Case.reference == "LYO-2020-0001"))
    assert narrative == HYPERLINK
    assert not list((app.config["DATA_DIR"] / "imports").iterdir())
    # Confirming twice imports nothing more.
    again = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert again.status_code == 302 and count(Case) == 2


def test_confirm_checks_again(app, org, tmp_path):
    """A reference taken between preview and confirm: refused whole at confirm."""
    client, token = coordinator_client(app, org)
    upload(client, write_csv(tmp_path / "r.csv", [row(**{"Référence": "LYO-2020-0009"}), row()]), token)
    factories.case(org, reference="LYO-2020-0009")
    response = client.post("/cases/import", data={"csrf_token": token, "action": "confirm"})
    assert response.status_code == 422
    assert "existe déjà" in response.get_data(as_text=True)
    assert count(Case) == 1 and count(Event) == 0


def test_missing_file_and_wrong_format_say_so(app, org, tmp_path):
    client, token = coordinator_client(app, org)
    response = client.post("/cases/import", data={"csrf_token": token}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Aucun fichier envoyé" in page and 'href="#import-file"' in page
    path = tmp_path / "notes.txt"
    path.write_text("bonjour")
    response = upload(client, path, token)
    assert response.status_code == 422 and "Format non pris en charge" in response.get_data(as_text=True)


def test_volunteers_and_lawyers_cannot_import(app, org, tmp_path):
    for role in ("volunteer", "lawyer"):
        client = app.test_client()
        login(client, factories.user(org, role))
        assert client.get("/cases/import").status_code == 403
