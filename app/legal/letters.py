"""Letters before court, drafted from the case (domain.md « Letters before court »).

`prefet`: the demande préalable by LRAR (substitution solution, API); `motifs`: the request for
the reasons of an implicit rejection (CRPA L. 232-4); `defenseur`: a saisine of the Défenseur
des droits. Pure like the requête: the case's rows, the party and the routing in, .docx bytes
out; the wording lives in app/legal/data/lettres.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from docx.enum.text import WD_ALIGN_PARAGRAPH

from app.core.formats import date_long
from app.exports.docx import _new_document, _para, _save, cite, exhibit_label
from app.exports.rows import CaseRow, ExhibitRow
from app.legal.french import Party, capitalise
from app.legal.requete import DATA, QUOTED, Writer
from app.legal.routing import ATTEMPTS, HARMS, Routing, exhibits_by_event

KINDS = ("prefet", "motifs", "defenseur")
STEP_TYPES = ("CCC", "PAN", "PREF", "SUBST", "DDD")


class LetterRefused(ValueError):
    """No such letter, or not for this case (French reason)."""


def load_letter_texts() -> dict:
    return json.loads((DATA / "lettres.json").read_text(encoding="utf-8"))


@dataclass
class LetterInput:
    case: CaseRow
    party: Party
    numero_etranger: str
    exhibits: list[ExhibitRow]
    labels: dict[str, dict[str, str]]
    prefet: str
    departement: str
    routing: Routing


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise LetterRefused(f"Lettre inconnue : « {kind[:30]} ». Lettres possibles : prefet (demande préalable au "
                            "préfet), motifs (motifs d'un rejet implicite), defenseur (Défenseur des droits).")


def build_letter(kind: str, data: LetterInput, *, texts: dict, references: dict, today: date,
                 template: bytes | None = None) -> bytes:
    """The letter `kind` as .docx bytes. Raises LetterRefused when the case cannot support it."""
    check_kind(kind)
    own, common = texts["letters"][kind], texts["common"]
    routing, case = data.routing, data.case
    if kind == "motifs" and routing.implicit is None:
        deposit = next((e for e in case.events if e.type == "DEPOT"), None)
        if deposit is None:
            raise LetterRefused("Pas de demande de motifs pour ce dossier : aucun dépôt complet n'est enregistré, "
                                "donc aucun rejet implicite n'est né.")
        from app.cases.deadlines import add_months

        raise LetterRefused(f"Pas encore de demande de motifs : le rejet implicite de la demande déposée le "
                            f"{date_long(deposit.date)} ne naîtra que le {date_long(add_months(deposit.date, 4))}.")
    if kind == "prefet":
        deposit = next((e for e in case.events if e.type == "DEPOT"), None)
        if deposit is not None:
            from app.cases.deadlines import add_months

            own = texts["letters"]["prefet"]
            rejet = routing.implicit.rejection_on if routing.implicit else add_months(deposit.date, 4)
            suite = own["deposited_motifs" if routing.implicit else "deposited_waiting"].format(rejet=date_long(rejet))
            raise LetterRefused(own["deposited"].format(depot=date_long(deposit.date), suite=suite))
    party = data.party
    say = Writer({"common": {}}, references, {"personne": party.name, "Personne": capitalise(party.name),
                                             "de_personne": party.of(), "prefet": data.prefet,
                                             "departement": data.departement})
    by_event = exhibits_by_event(case.events, data.exhibits)
    document = _new_document(template)

    # Sender, recipient, place and date, mode of sending, object.
    sender = [party.full_name or common["sender_unknown"]]
    if party.known:
        sender.append(" ".join(party.address.split()) or common["address_unknown"])
    if data.numero_etranger and kind != "defenseur":
        sender.append(say(common["numero_etranger"], numero=data.numero_etranger))
    if case.anef_number and kind != "defenseur":
        sender.append(say(common["demande_anef"], numero=case.anef_number))
    for line in sender:
        _para(document, line).paragraph_format.space_after = 0
    _para(document, "")
    for line in say(own["recipient"]).split("\n"):
        _para(document, line, align=WD_ALIGN_PARAGRAPH.RIGHT).paragraph_format.space_after = 0
    _para(document, "")
    _para(document, say(common["place_date"], date=date_long(today)), align=WD_ALIGN_PARAGRAPH.RIGHT)
    if own.get("lrar"):
        _para(document, common["lrar"], bold=True)
    renewal = case.demarche == "RENOUV"
    _para(document, say(own["object"], objet_api=own.get("objet_api", "") if renewal else ""), bold=True)
    _para(document, own["salutation"])

    values = _values(data, today)
    bullets = _has_style(document, "List Bullet")
    if kind == "motifs":
        _para(document, say(own["facts"], **values))
        _para(document, say(own["ask"]))
        if routing.implicit.challenge_until < today:
            _para(document, say(own["late"], fin_recours=date_long(routing.implicit.challenge_until)))
    else:
        if kind == "defenseur":
            _para(document, say(own["intro"]))
        deposited = any(e.type == "DEPOT" for e in case.events)
        if renewal and case.titre_expiry:
            situation = "situation_renewal"
        else:
            situation = "situation_deposited" if deposited and "situation_deposited" in own else "situation_other"
        _para(document, say(own[situation], **values))
        _para(document, say(own["blocked"], **values))
        _para(document, say(own["attempts_intro"]))
        bullets = _has_style(document, "List Bullet")
        for line in _steps(case.events, by_event, common, say):
            _para(document, line if bullets else f"– {line}", "List Bullet" if bullets else None)
        if kind == "defenseur":
            deposit = next((e for e in case.events if e.type == "DEPOT"), None)
            if deposit is not None:
                _para(document, say(own["deposit"], **values))
            harms = [e for e in case.events if e.type in HARMS]
            if harms:
                _para(document, say(own["harms_intro"]))
                for event in harms:
                    numbers = list(by_event.get(event.id, ()))
                    line = say(common["harms"][event.type], date=date_long(event.date),
                               pieces=f" {cite(numbers)}" if numbers else "")
                    _para(document, line if bullets else f"– {line}", "List Bullet" if bullets else None)
            _para(document, say(own["asks"]))
        else:
            _para(document, say(own["law"]))
            _para(document, say(own["asks_intro"]))
            for ask in own["asks"] if renewal else own["asks_not_renewal"]:
                _para(document, say(ask) if bullets else "– " + say(ask), "List Bullet" if bullets else None)
            _para(document, say(own["closing"]))
    _para(document, say(own["politeness"]))
    _para(document, common["signature"], align=WD_ALIGN_PARAGRAPH.RIGHT)

    _para(document, common["pieces_heading"], bold=True)
    if data.exhibits:
        natures = {"image": "Capture d'écran", "other": "Document"}
        for exhibit in data.exhibits:
            _para(document, f"Pièce n° {exhibit.number} : {exhibit_label(exhibit, natures)}")
    else:
        _para(document, common["pieces_none"])
    return _save(document)


def _has_style(document, name: str) -> bool:
    return any(s.name == name for s in document.styles)


def _values(data: LetterInput, today: date) -> dict[str, str]:
    case, routing = data.case, data.routing
    labels = data.labels
    expiry = case.titre_expiry
    deposit = next((e for e in case.events if e.type == "DEPOT"), None)
    numbers = list(exhibits_by_event(case.events, data.exhibits).get(deposit.id, ())) if deposit else []
    demarche = labels.get("demarche", {}).get(case.demarche, case.demarche)
    return {
        "categorie": f" « {case.titre_actuel} »" if case.titre_actuel else "",
        "verbe": "a expiré" if expiry and expiry < today else "expire",
        "expiration": date_long(expiry) if expiry else "",
        "titre": f" « {case.titre_demande} »" if case.titre_demande else "",
        "demarche": demarche[:1].lower() + demarche[1:],
        "blocages": " ; ".join(b[:1].lower() + b[1:] for b in
                               (labels.get("blocage", {}).get(c, c) for c in case.blocages)) or "[À COMPLÉTER]",
        "depot": date_long(routing.implicit.filed_on if routing.implicit else deposit.date) if deposit else "",
        "rejet": date_long(routing.implicit.rejection_on) if routing.implicit else "",
        "numero_anef": f" (demande ANEF n° {case.anef_number})" if case.anef_number else "",
        "piece_depot": f" {cite(numbers)}" if numbers else "",
    }


def _steps(events, by_event, common: dict, say: Writer) -> list[str]:
    """Each attempt and each remedy, dated, with its pièces; an error joins its attempt's line."""
    lines: list[list] = []  # [day, type, text, pièce numbers]
    for event in events:
        numbers = list(by_event.get(event.id, ()))
        if event.type == "ERREUR" and lines and lines[-1][:2] == [event.date, "TENTATIVE"]:
            lines[-1][1] = "ERREUR"  # the error shown that day joins the attempt's line
            lines[-1][2] += _message(event)
            lines[-1][3] = sorted(set(lines[-1][3]) | set(numbers))
        elif event.type in ATTEMPTS:
            lines.append([event.date, event.type, say(common["attempt"], date=date_long(event.date),
                                                      message=_message(event), pieces=""), numbers])
        elif event.type in STEP_TYPES:
            reference = f" (référence {event.reference})" if event.reference else ""
            lines.append([event.date, event.type, say(common["step"], date=date_long(event.date),
                                                      what=common["steps"][event.type], reference=reference,
                                                      pieces=""), numbers])
    return ([text + (f" {cite(numbers)}" if numbers else "") for _, _, text, numbers in lines]
            or ["[À COMPLÉTER : dates des tentatives et des démarches]"])


def _message(event) -> str:
    description = " ".join((event.description or "").split()).rstrip(" .")
    if not description or event.type not in QUOTED:
        return ""
    return f" : {description}" if "«" in description else f" (message affiché : « {description} »)"
