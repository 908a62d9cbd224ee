"""The requête of a route, as Word bytes: what the routing decided, laid out as a pleading.

Pure: the case's rows, the party, the routing, the texts (app/legal/data/requetes.json) and
the references (app/legal/data/references.json) come in; .docx bytes come out. Every legal
sentence comes from the data files; this module only chooses which ones apply to the facts
and fills in the dated facts with their pièces.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX

from app.core.formats import date_long, duration_fr
from app.exports.docx import (_annexes, _bordereau, _heading, _new_document, _NumberedList, _para,
                              _save, cite)
from app.exports.rows import CaseRow, ExhibitRow
from app.legal.codes import ROUTES
from app.legal.french import Party, capitalise, elide
from app.legal.routing import ATTEMPTS, HARMS, Routing, exhibits_by_event

DATA = Path(__file__).resolve().parent / "data"
REF_TOKEN = re.compile(r"\{ref:([A-Z0-9.\-]+)\}")
DRAFTABLE = ("MESURES-UTILES", "SUSPENSION", "EXECUTION", "NOUVELLES-CIRCONSTANCES")
STEPS = ("PAN", "CCC", "PREF", "SUBST", "DDD")


class RouteRefused(ValueError):
    """No requête for this route (AUCUNE, or an unknown code): the French reason."""


class UnknownRoute(RouteRefused):
    """The route asked for is not a code of the contract."""


def load_texts() -> dict:
    """Read at each export, so a lawyer's correction applies at once."""
    return json.loads((DATA / "requetes.json").read_text(encoding="utf-8"))


def load_references() -> dict[str, dict]:
    doc = json.loads((DATA / "references.json").read_text(encoding="utf-8"))
    return {r["id"]: r for r in doc["references"]}


def cited_reference_ids(texts) -> set[str]:
    """Every {ref:ID} the texts use (for the test that each is verified and sourced)."""
    printed = {k: v for k, v in texts.items() if not k.startswith("_")}  # comments explain the syntax
    return set(REF_TOKEN.findall(json.dumps(printed, ensure_ascii=False)))


@dataclass
class RequeteInput:
    """Everything the requête says, loaded and access-checked by the caller."""

    case: CaseRow
    party: Party
    exhibits: list[ExhibitRow]
    labels: dict[str, dict[str, str]]
    tribunal: str
    prefet: str
    routing: Routing  # what the facts call for
    days_without_rights: int | None = None
    rights_estimated: bool = False
    extra: dict = field(default_factory=dict)


class Writer:
    """Fills the texts: {ref:ID} from the references (verified ones only), then the case's values."""

    def __init__(self, texts: dict, references: dict[str, dict], values: dict[str, str]):
        self.texts, self.references, self.values = texts, references, values

    def ref(self, match: re.Match) -> str:
        entry = self.references.get(match.group(1))
        if entry is None or not entry.get("verified"):
            return f"[À COMPLÉTER : référence {match.group(1)} non vérifiée]"
        return entry["citation"]

    def __call__(self, template: str, **extra) -> str:
        text = REF_TOKEN.sub(self.ref, template)
        text = string.Formatter().vformat(text, (), {**self.values, **extra})
        # A corrected text may write « de {personne} »: elide it all the same (« d'Ana »).
        name = self.values.get("personne", "")
        return text.replace(f"de {name}", self.values.get("de_personne", f"de {name}")) if name else text


def _fact_sentence(event, data: RequeteInput, say: Writer, numbers: list[int]) -> str:
    sentences = say.texts["common"]["event_sentences"]
    key = event.type
    if event.type == "ORDONNANCE" and event.outcome:
        key = f"ORDONNANCE:{event.outcome}"
    elif event.type == "REFERE" and event.outcome:
        key = f"REFERE:{event.outcome}"
    template = sentences.get(key) or sentences.get(event.type) or sentences["AUTRE"]
    text = f"Le {date_long(event.date)}, " + say(template)
    if event.reference:
        text += f" ({REFERENCE_WORDS.get(event.type, 'référence')} {event.reference})"
    text += _quoted(event)
    if numbers:
        text += " " + cite(numbers)
    return text + "."


def _quoted(event) -> str:
    """« : « message » » for the facts whose typed text is itself evidence; a text that already
    quotes (« Message affiché : « … » ») is not wrapped twice."""
    description = " ".join((event.description or "").split()).rstrip(" .")
    if not description or event.type not in QUOTED:
        return ""
    return f" : {description}" if "«" in description else f" : « {description} »"


def _facts(events, data: RequeteInput, say: Writer, by_event: dict) -> list[str]:
    """One sentence per fact, oldest first; an error shown on the day of an attempt joins the
    attempt's sentence (« a tenté de déposer…, sans y parvenir : « Une erreur… » »)."""
    sentences, skip = [], set()
    for i, event in enumerate(events):
        if event.id in skip:
            continue
        following = events[i + 1] if i + 1 < len(events) else None
        if (event.type == "TENTATIVE" and following is not None and following.type == "ERREUR"
                and following.date == event.date):
            skip.add(following.id)
            numbers = sorted(set(by_event.get(event.id, [])) | set(by_event.get(following.id, [])))
            sentence = _fact_sentence(event, data, say, [])[:-1] + _quoted(following)
            if following.reference:
                sentence += f" (référence {following.reference})"
            sentences.append(sentence + (f" {cite(numbers)}" if numbers else "") + ".")
        else:
            sentences.append(_fact_sentence(event, data, say, by_event.get(event.id, [])))
    return sentences


# The text a volunteer typed is quoted only where it is itself evidence (the error shown, the answer).
QUOTED = frozenset({"ERREUR", "REPONSE", "AUTRE"})
REFERENCE_WORDS = {"CCC": "ticket n°", "PREF": "envoi n°", "SUBST": "envoi n°", "REFERE": "requête n°",
                   "ORDONNANCE": "n°", "DDD": "référence"}


def build_requete(data: RequeteInput, *, route: str | None = None, texts: dict, references: dict,
                  today: date, template: bytes | None = None, annexes: bool = True) -> bytes:
    """The requête for `route` (the routing's own by default) as .docx bytes. Raises RouteRefused.

    `annexes=False` gives the version filed through Télérecours: the bordereau stays, the
    pièces themselves travel as separate files (CJA R. 414-5)."""
    routing = data.routing
    route = route or routing.route
    if route not in ROUTES:
        raise UnknownRoute(f"Voie de droit inconnue : « {route[:40]} ». Voies possibles : "
                           + ", ".join(r for r in ROUTES if r != "AUCUNE") + ".")
    if route == "AUCUNE":
        raise RouteRefused("Aucune requête n'est à déposer pour ce dossier : " + " ".join(routing.reasons))
    article_route = (routing.underlying or "MESURES-UTILES") if route == "NOUVELLES-CIRCONSTANCES" else route
    if route == "NOUVELLES-CIRCONSTANCES" and article_route not in ("MESURES-UTILES", "SUSPENSION"):
        article_route = "MESURES-UTILES"

    party = data.party
    values = {"personne": party.name, "Personne": capitalise(party.name), "de_personne": party.of(),
              "prefet": data.prefet, "tribunal": data.tribunal}
    say = Writer(texts, references, values)
    common, own = texts["common"], texts["routes"][article_route]
    by_event = {event_id: list(numbers) for event_id, numbers in
                exhibits_by_event(data.case.events, data.exhibits).items()}

    document = _new_document(template)
    if route != routing.route:
        _forced_route_line(document, say, route, routing)

    title = say(own["title"])
    if route == "NOUVELLES-CIRCONSTANCES":
        nc = texts["routes"]["NOUVELLES-CIRCONSTANCES"]
        title = nc["title_prefix"] + title + nc["title_suffix"]
    _para(document, title, "Title", align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(document, say(own["subtitle"]), align=WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    _para(document, say(common["addressee"]), align=WD_ALIGN_PARAGRAPH.CENTER)

    _para(document, common["pour_heading"], bold=True)
    if party.known:
        _para(document, party.identity(say(common["domicile_unknown"]), common["birth_place_unknown"]))
    else:
        _para(document, say(common["pour_unknown"]))
    _para(document, common["counsel"])
    _para(document, common["contre_heading"], bold=True)
    _para(document, say(common["contre"]))

    facts = _route_values(data, article_route, by_event, say, today)
    say.values.update(facts)
    _para(document, say(own["intro"]))

    # I. Faits et procédure
    _heading(document, common["facts_heading"], 1)
    _situation(document, data, say, common, today)
    events = data.case.events
    if events:
        numbered = _NumberedList(document)
        for sentence in _facts(events, data, say, by_event):
            numbered.item(sentence)
    else:
        _para(document, common["facts_no_events"])
    cited = {n for numbers in by_event.values() for n in numbers}
    uncited = [x.number for x in data.exhibits if x.number not in cited]
    if uncited:
        key = "uncited" if len(uncited) > 1 else "uncited_one"
        _para(document, say(common[key], pieces=cite(uncited)[1:-1]))
    first = routing.first_filing or _first_step(events)
    if first:
        _para(document, say(common["elapsed"], duree=duration_fr((today - first).days), premiere=date_long(first)))
    if data.days_without_rights:
        _para(document, say(common["rights"], jours=data.days_without_rights))
        if data.rights_estimated:
            _para(document, common["rights_estimate"])

    # II. Discussion
    _heading(document, common["discussion_heading"], 1)
    section = _Sections(document)
    section.heading(common["recevabilite_heading"])
    if route == "NOUVELLES-CIRCONSTANCES":
        nc = texts["routes"]["NOUVELLES-CIRCONSTANCES"]
        _para(document, say(nc["rejected"]))
    for paragraph in _recevabilite(own, article_route, routing, say, events):
        _para(document, paragraph)

    if route == "NOUVELLES-CIRCONSTANCES":
        nc = texts["routes"]["NOUVELLES-CIRCONSTANCES"]
        section.heading(nc["specific_heading"])
        _para(document, say(nc["new_intro"]))
        listing = _NumberedList(document)
        for fact in routing.new_facts:
            event = next((e for e in events if e.id == fact.id), None)
            if event is not None:
                listing.item(_fact_sentence(event, data, say, by_event.get(event.id, [])))
        _para(document, nc["new_outro"])

    section.heading(common["urgence_heading"])
    _urgence(document, data, own, common, say, by_event, route, today)

    if article_route == "MESURES-UTILES":
        section.heading(own["specific_heading"])
        _utilite(document, data, own, say, by_event)
        section.heading(own["obstacle_heading"])
        _para(document, say(own["obstacle"]))
    elif article_route == "SUSPENSION":
        section.heading(own["specific_heading"])
        if routing.implicit is not None:
            _para(document, say(own["doute_implicit"]))
        for paragraph in own["doute"]:
            _para(document, say(paragraph))
    else:  # EXECUTION
        section.heading(own["specific_heading"])
        _para(document, say(own["inexecution"]))
        _para(document, say(own["astreinte"]))

    # Par ces motifs
    _heading(document, common["motifs_heading"], 1)
    _para(document, say(own.get("motifs_intro", common["motifs_intro"])))
    motifs = _NumberedList(document)
    motifs.item(say(common["motif_aj"]))
    for item in _motifs(own, article_route, data):
        motifs.item(say(item, delai_astreinte=say(common["delai_astreinte"])))
    motifs.item(say(common["motif_frais"]))
    _para(document, say(common["signature"], date=date_long(today)), align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(document, common["signature_counsel"], align=WD_ALIGN_PARAGRAPH.RIGHT)

    from app.exports.services import brief_texts

    brief = brief_texts()  # bordereau and annex wording, shared with the Télérecours bundle
    from app.exports.pieces import missing_standard_pieces

    _bordereau(document, data.exhibits, brief, page_break=True,
               missing=missing_standard_pieces(data.case, data.exhibits))
    if data.exhibits and annexes:
        _annexes(document, data.exhibits, brief)
    return _save(document)


class _Sections:
    """« A. Sur la recevabilité », « B. Sur l'urgence »… lettered in order of appearance."""

    def __init__(self, document):
        self.document, self.count = document, 0

    def heading(self, text: str) -> None:
        letter = "ABCDEFGH"[self.count]
        self.count += 1
        _heading(self.document, f"{letter}. {text}", 2)


def _forced_route_line(document, say: Writer, route: str, routing: Routing) -> None:
    reason = " ".join(routing.reasons) or "voir la fiche du dossier."
    text = say(say.texts["common"]["forced_route"], voie_demandee=ROUTES[route],
               voie_conseillee=ROUTES[routing.route], raison=reason)
    paragraph = _para(document, "")
    run = paragraph.add_run(text)
    run.bold = True
    run.font.highlight_color = WD_COLOR_INDEX.YELLOW


def _first_step(events) -> date | None:
    steps = [e.date for e in events if e.type in ATTEMPTS | {"DEPOT"}]
    return min(steps) if steps else None


def _situation(document, data: RequeteInput, say: Writer, common: dict, today: date) -> None:
    case, routing = data.case, data.routing
    party = data.party
    expiry = case.titre_expiry
    if expiry:
        nationality = f"de nationalité {party.nationality}, " if party.nationality else ""
        categorie = f" « {case.titre_actuel} »" if case.titre_actuel else ""
        verbe = "a expiré" if expiry < today else "expire"
        _para(document, say(common["titre_held"], nationalite=nationality, categorie=categorie, verbe=verbe,
                            expiration=date_long(expiry)))
    elif case.demarche == "RENOUV":
        _para(document, say(common["titre_unknown"]))
    demarche = data.labels.get("demarche", {}).get(case.demarche, case.demarche)
    article = demarche[:1].lower() + demarche[1:]
    if not article.startswith(("demande", "première", "renouvellement")):
        article = f"demande de {article}" if not article.startswith(("changement", "duplicata")) else article
    titre = f" portant sur un titre de séjour « {case.titre_demande} »" if case.titre_demande else ""
    numero = f" (demande ANEF n° {case.anef_number})" if case.anef_number else ""
    sentence = say(common["demande"], demarche=article, titre_demande=titre, numero=numero)
    _para(document, sentence.replace("une renouvellement", "un renouvellement")
          .replace("une changement", "un changement").replace("une duplicata", "un duplicata"))
    if routing.renewal_window and routing.first_filing:
        if not routing.renewal_in_time:
            key = "renewal_window_late"
        elif routing.first_filing < routing.renewal_window[0]:
            key = "renewal_window_early"
        else:
            key = "renewal_window_in_time"
        _para(document, say(common[key], debut=date_long(routing.renewal_window[0]),
                            fin=date_long(routing.renewal_window[1]), premiere=date_long(routing.first_filing)))
    blocages = [data.labels.get("blocage", {}).get(c, c) for c in case.blocages]
    if blocages:
        _para(document, say(common["blocage"], blocages=" ; ".join(b[:1].lower() + b[1:] for b in blocages)))


def _route_values(data: RequeteInput, article_route: str, by_event: dict, say: Writer, today: date) -> dict:
    """Dates and pièces of the facts the route rests on, as text values for the templates."""
    routing, events = data.routing, data.case.events
    values = {"requete": "", "cite_depot": "", "cite_decision": "", "cite_ordonnance": ""}
    unknown_date = "[À COMPLÉTER : date]"
    order = routing.order
    if order is not None:
        values["date_ordonnance"] = date_long(order.date)
        values["cite_ordonnance"] = f" {cite(list(order.exhibits))}" if order.exhibits else ""
        refere = [e for e in events if e.type == "REFERE" and e.date <= order.date and e.reference]
        values["requete"] = f" (requête n° {refere[-1].reference})" if refere else ""
    else:
        values["date_ordonnance"] = unknown_date
    implicit, decision = routing.implicit, routing.decision
    if implicit is not None:
        values["depot"], values["rejet"] = date_long(implicit.filed_on), date_long(implicit.rejection_on)
        deposit = next((e for e in events if e.type == "DEPOT" and e.date == implicit.filed_on), None)
        numbers = by_event.get(deposit.id, []) if deposit else []
        values["cite_depot"] = f" {cite(numbers)}" if numbers else ""
    else:
        deposit = next((e for e in events if e.type == "DEPOT"), None)
        values["depot"] = date_long(deposit.date) if deposit else unknown_date
        values["rejet"] = unknown_date
        if deposit is not None:
            from app.cases.deadlines import add_months

            values["rejet"] = date_long(add_months(deposit.date, 4))
    if decision is not None:
        values["date_decision"] = date_long(decision.date)
        values["cite_decision"] = f" {cite(list(decision.exhibits))}" if decision.exhibits else ""
    else:
        values["date_decision"] = unknown_date
    oqtf = [e for e in events if e.type == "OQTF"]
    values["date_oqtf"] = date_long(oqtf[-1].date) if oqtf else unknown_date
    if article_route == "SUSPENSION":
        own = say.texts["routes"]["SUSPENSION"]
        if implicit is not None:
            key = "decision_implicit"
        elif decision is not None and decision.type == "OQTF":
            key = "decision_oqtf"
        else:
            key = "decision_express"
        values["decision"] = say(own[key], **values)
    else:
        values["decision"] = "la décision attaquée"
    if order is not None:
        values["duree"] = duration_fr((today - order.date).days)
    else:
        values["duree"] = "[À COMPLÉTER]"
    return values


def _recevabilite(own: dict, article_route: str, routing: Routing, say: Writer, events) -> list[str]:
    if article_route == "MESURES-UTILES":
        deposited = any(e.type == "DEPOT" for e in events)
        reason = say(own["no_decision_pending" if deposited and routing.implicit is None else "no_decision_blocked"])
        return [say(p, aucune_decision=reason) for p in own["recevabilite"]]
    paragraphs = [say(p) for p in own["recevabilite"]]
    if article_route == "SUSPENSION":
        extra = own["recevabilite_implicit"] if routing.implicit is not None else own["recevabilite_express"]
        paragraphs += [say(p) for p in extra]
        if any(e.type == "OQTF" for e in events):
            paragraphs.append(say(own["recevabilite_oqtf"]))
    return paragraphs


def _urgence(document, data: RequeteInput, own: dict, common: dict, say: Writer, by_event: dict,
             route: str, today: date) -> None:
    routing, case = data.routing, data.case
    renewal = case.demarche == "RENOUV"
    if route == "EXECUTION":
        _para(document, say(own["urgence_intro"]))
    elif renewal and routing.renewal_in_time is False:
        _para(document, say(common["urgence_not_presumed"]))
    elif renewal and "urgence_in_time_blocked" not in own:  # suspension of a refused renewal
        _para(document, say(own["urgence_presumed"]))
    elif renewal and routing.renewal_in_time:  # référé mesures utiles: was the request registered?
        deposited = any(e.type == "DEPOT" for e in case.events)
        effet = ""
        if case.titre_expiry:
            effet = say(own["effet_titre_expired" if case.titre_expiry < today else "effet_titre_coming"],
                        expiration=date_long(case.titre_expiry))
        key = "urgence_presumed" if deposited else "urgence_in_time_blocked"
        _para(document, say(own[key], effet_titre=effet).strip())
    harms = [e for e in case.events if e.type in HARMS]
    if harms:
        _para(document, say(common["urgence_harms_intro"]))
        listing = _NumberedList(document)
        for event in harms:
            listing.item(_fact_sentence(event, data, say, by_event.get(event.id, [])))
    if data.days_without_rights:
        _para(document, say(common["rights"], jours=data.days_without_rights))
    named = [data.labels.get("consequence", {}).get(c, c) for c in case.consequences]
    if named:
        _para(document, say(common["urgence_consequences"],
                            consequences=", ".join(n[:1].lower() + n[1:] if not n[1:2].isupper() else n
                                                   for n in named)))
    if not harms:
        _para(document, common["urgence_placeholder"])


def _utilite(document, data: RequeteInput, own: dict, say: Writer, by_event: dict) -> None:
    events = data.case.events
    _para(document, say(own["utilite_intro"]))
    attempts = [e for e in events if e.type in ATTEMPTS]
    if not attempts:
        _para(document, say(own["utilite_attempts_none"]))
    else:
        first, last = attempts[0].date, attempts[-1].date
        numbers = sorted({n for e in attempts for n in by_event.get(e.id, [])})
        key = "utilite_attempts"
        if "MEME-SEMAINE" in data.routing.warning_codes():
            key = "utilite_attempts_single" if len(attempts) == 1 else "utilite_attempts_same_week"
        text = say(own[key], premiere=date_long(first), derniere=date_long(last), nombre=len(attempts))
        _para(document, text + (f" {cite(numbers)}" if numbers and key == "utilite_attempts" else ""))
    steps = []
    labels = data.labels.get("evenement", {})
    for code in STEPS:
        found = [e for e in events if e.type == code]
        if found:
            dates = ", ".join(f"le {date_long(e.date)}" for e in found)
            numbers = sorted({n for e in found for n in by_event.get(e.id, [])})
            label = labels.get(code, code)
            steps.append(f"{label[:1].lower() + label[1:]} ({dates})" + (f" {cite(numbers)}" if numbers else ""))
    _para(document, say(own["utilite_steps"], demarches=" ; ".join(steps)) if steps else own["utilite_no_steps"])
    _para(document, say(own["utilite_law"]))


def _motifs(own: dict, article_route: str, data: RequeteInput) -> list[str]:
    if article_route == "MESURES-UTILES":
        # An API is due only for a renewal requested in time (R. 431-15-1); otherwise ask for registration.
        in_time = data.case.demarche == "RENOUV" and data.routing.renewal_in_time is not False
        return own["motifs_renewal"] if in_time else own["motifs_other"]
    return own["motifs"]


__all__ = ["RequeteInput", "RouteRefused", "UnknownRoute", "build_requete", "load_texts", "load_references", "elide"]
