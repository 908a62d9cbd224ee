"""The case's route and its requête end to end: the contract's CLI and web routes on cases dated
relative to today, as a lawyer would read the draft."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import pytest
from docx import Document

from tests import factories
from tests.conftest import login
from tests.exports.helpers import add_exhibit, docx_text, screenshot

NBSP = "\u00a0"
TODAY = date.today()


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def make(org, reference, events, **fields):
    fields = {"first_name": "Ana", "last_name": "Diallo", "demarche": "PREMIERE", "status": "EN-COURS",
              "birth_date": date(1990, 3, 3), "nationality": "malienne", **fields}
    case = factories.case(org, None, reference=reference, **fields)
    for days, type_, outcome in events:
        factories.event(case, type_, ago(days), outcome=outcome)
    return case


# reference: (events, case fields, expected route, warnings that must be there, warnings that must not)
SCENARIOS = {
    "BLOQUE": ([(90, "TENTATIVE", ""), (70, "ERREUR", ""), (50, "TENTATIVE", ""), (40, "PREF", "")],
               {"demarche": "RENOUV", "titre_expiry": ago(-20)}, "MESURES-UTILES", set(), {"MEME-SEMAINE", "HORS-DELAI"}),
    "SILENCE": ([(160, "DEPOT", "")], {"demarche": "RENOUV", "titre_expiry": ago(60)}, "SUSPENSION", set(),
                {"OQTF"}),
    "INJONCTION": ([(120, "TENTATIVE", ""), (100, "TENTATIVE", ""), (60, "REFERE", "L521-3"),
                    (45, "ORDONNANCE", "INJONCTION")], {}, "EXECUTION", set(), set()),
    "REJET": ([(120, "TENTATIVE", ""), (100, "TENTATIVE", ""), (60, "REFERE", "L521-3"),
               (45, "ORDONNANCE", "REJET"), (20, "EMPLOI", "")], {"consequences": ["EMPLOI"]},
              "NOUVELLES-CIRCONSTANCES", set(), set()),
    "TARDIF": ([(30, "TENTATIVE", ""), (15, "TENTATIVE", "")], {"demarche": "RENOUV", "titre_expiry": ago(10)},
               "MESURES-UTILES", {"HORS-DELAI"}, {"MEME-SEMAINE"}),
    "SEMAINE": ([(12, "TENTATIVE", ""), (11, "ERREUR", ""), (9, "TENTATIVE", "")], {}, "MESURES-UTILES",
                {"MEME-SEMAINE"}, set()),
    "OQTF": ([(200, "DEPOT", ""), (30, "REFUS", ""), (25, "OQTF", "")], {}, "SUSPENSION", {"OQTF"}, set()),
    "RESOLU": ([(200, "DEPOT", ""), (30, "TITRE-OK", "")], {"status": "RESOLU"}, "AUCUNE", set(), {"OQTF"}),
}
ARTICLES = {"MESURES-UTILES": "article L. 521-3 du code de justice administrative",
            "SUSPENSION": "article L. 521-1 du code de justice administrative",
            "EXECUTION": "article L. 911-4 du code de justice administrative",
            "NOUVELLES-CIRCONSTANCES": "article L. 521-3 du code de justice administrative"}


@pytest.fixture
def scenario_cases(org):
    return {ref: make(org, ref, events, **fields) for ref, (events, fields, *_rest) in SCENARIOS.items()}


def test_cases_route_json_gives_the_route_and_warnings(app, scenario_cases):
    runner = app.test_cli_runner()
    for ref, (_, _, expected, present, absent) in SCENARIOS.items():
        result = runner.invoke(args=["cases", "route", ref, "--json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        codes = {w["code"] for w in payload["warnings"]}
        assert payload["route"] == expected, (ref, payload)
        assert present <= codes and not (absent & codes), (ref, codes)
        assert payload["reasons"] and all(isinstance(r, str) for r in payload["reasons"])
    text = runner.invoke(args=["cases", "route", "TARDIF"]).output
    assert "MESURES-UTILES" in text and "HORS-DELAI" in text
    assert runner.invoke(args=["cases", "route", "NOPE"]).exit_code != 0


def test_each_route_drafts_its_own_requete(app, tmp_path, scenario_cases):
    runner = app.test_cli_runner()
    for ref, (_, _, expected, _, _) in SCENARIOS.items():
        out = tmp_path / f"{ref}.docx"
        result = runner.invoke(args=["exports", "brief", ref, "-o", str(out)])
        if expected == "AUCUNE":
            assert result.exit_code != 0 and "Aucune requête" in result.output and not out.exists()
            continue
        assert result.exit_code == 0, result.output
        text = docx_text(out.read_bytes()).replace(NBSP, " ")
        assert ARTICLES[expected] in text, ref
        assert "Sur la recevabilité" in text and "Sur l'urgence" in text
        assert "aide juridictionnelle à titre provisoire" in text
        assert "article L. 761-1 du code de justice administrative" in text
        assert "d'Ana DIALLO" in text and "de Ana" not in text, ref
        assert "né·e" not in text and "·" not in text.split("BORDEREAU")[0], ref
        assert "R. 414-3" not in text
        assert "PAR CES MOTIFS" in text and "à titre subsidiaire" in text


def test_urgency_is_argued_from_the_job_loss_with_its_piece(app, tmp_path, org, scenario_cases):
    case = scenario_cases["REJET"]
    job_loss = next(e for e in case.events if e.type == "EMPLOI")
    add_exhibit(case, screenshot(7), "lettre_employeur.png", None, description="Lettre de l'employeur",
                captured_at=datetime.combine(job_loss.date, datetime.min.time()), event_id=job_loss.id)
    out = tmp_path / "rejet.docx"
    assert app.test_cli_runner().invoke(args=["exports", "brief", "REJET", "-o", str(out)]).exit_code == 0
    text = docx_text(out.read_bytes()).replace(NBSP, " ")
    urgence = text.split("Sur l'urgence")[1].split("Sur l'utilité")[0]
    assert "a perdu son emploi" in urgence and "(pièce n° 1)" in urgence
    circumstances = text.split("Sur les circonstances nouvelles")[1].split("Sur l'urgence")[0]
    assert "a perdu son emploi" in circumstances
    assert "NOUVELLE REQUÊTE EN RÉFÉRÉ MESURES UTILES" in text


def test_late_renewal_does_not_claim_presumed_urgency_nor_an_api(app, tmp_path, scenario_cases):
    out = tmp_path / "tardif.docx"
    assert app.test_cli_runner().invoke(args=["exports", "brief", "TARDIF", "-o", str(out)]).exit_code == 0
    text = docx_text(out.read_bytes()).replace(NBSP, " ")
    assert "l'urgence n'est pas présumée" in text and "après ce délai" in text
    assert "attestation de prolongation d'instruction l'autorisant à travailler" not in text


def test_implicit_rejection_requete_names_the_decision_and_asks_for_its_reasons(app, tmp_path, scenario_cases):
    out = tmp_path / "silence.docx"
    assert app.test_cli_runner().invoke(args=["exports", "brief", "SILENCE", "-o", str(out)]).exit_code == 0
    text = docx_text(out.read_bytes()).replace(NBSP, " ")
    assert "REQUÊTE EN RÉFÉRÉ-SUSPENSION" in text and "décision implicite" in text
    assert "article L. 232-4 du code des relations entre le public et l'administration" in text
    assert "CE, 18 février 2022, n° 457933" in text  # renewal: urgency in principle


def test_civility_gives_agreement_and_domicile_placeholder(app, tmp_path, org):
    case = make(org, "CIV", [(90, "TENTATIVE", ""), (60, "TENTATIVE", "")], civility="Mme", birth_place="Bamako")
    out = tmp_path / "civ.docx"
    assert app.test_cli_runner().invoke(args=["exports", "brief", "CIV", "-o", str(out)]).exit_code == 0
    text = docx_text(out.read_bytes()).replace(NBSP, " ")
    assert "Mme Ana DIALLO, née le 3 mars 1990 à Bamako" in text
    assert "[À COMPLÉTER : domicile" in text and "R. 411-1" in text
    assert case.person.civility == "Mme"


def test_forced_route_says_which_route_the_facts_call_for(client, org, scenario_cases):
    lawyer = factories.user(org, "lawyer")
    login(client, lawyer)
    case = scenario_cases["INJONCTION"]
    response = client.get(f"/cases/{case.id}/brief.docx?route=MESURES-UTILES")
    assert response.status_code == 200
    document = Document(io.BytesIO(response.data))
    first = document.paragraphs[0]
    assert "appellent la voie « Demande d'exécution de l'ordonnance obtenue »" in first.text.replace(NBSP, " ")
    assert first.runs[0].font.highlight_color is not None
    unknown = client.get(f"/cases/{case.id}/brief.docx?route=CASSATION")
    assert unknown.status_code == 400 and "Voie de droit inconnue" in unknown.get_data(as_text=True)
    resolved = client.get(f"/cases/{scenario_cases['RESOLU'].id}/brief.docx")
    assert resolved.status_code == 409 and "Aucune requête" in resolved.get_data(as_text=True)


def test_case_page_panel_for_volunteers_and_lawyers_only(client, org, scenario_cases):
    case = scenario_cases["TARDIF"]
    for role, sees_panel, sees_button in (("volunteer", True, False), ("lawyer", True, True),
                                          ("coordinator", False, False)):
        other = client.application.test_client()
        login(other, factories.user(org, role))
        page = other.get(f"/cases/{case.id}").get_data(as_text=True)
        assert ("Voie de droit" in page) is sees_panel, role
        assert ("Hors délai" in page) is sees_panel, role
        assert (f"/cases/{case.id}/brief.docx" in page) is sees_button, role


def test_bidi_override_in_a_reference_does_not_reverse_the_requete(app, tmp_path, org):
    case = make(org, "BIDI", [(60, "TENTATIVE", ""), (30, "TENTATIVE", "")])
    factories.event(case, "CCC", ago(20), reference="\u202eTICKET-1234")
    out = tmp_path / "bidi.docx"
    assert app.test_cli_runner().invoke(args=["exports", "brief", "BIDI", "-o", str(out)]).exit_code == 0
    text = docx_text(out.read_bytes())
    assert "\u202e" not in text and "TICKET-1234" in text
