"""Which remedy a case calls for, read from its timeline (shared/domain.md, « Which remedy »).

Pure: a `Situation` (the case and its dated facts, each with the pièces that prove it) and
today's date in, a `Routing` out — the route code of the contract, the reasons (French
sentences citing the dated facts), the warnings with their codes, the deadlines the route
rests on, and what is missing to file. No database, no Flask: the case page, the CLI and the
requête builders all read the same answer.

Order of the questions, most decisive first:
1. resolved or closed case, empty timeline, dates that contradict each other → AUCUNE;
2. the last référé and its ordonnance: an injunction not carried out → EXECUTION; a rejection
   → NOUVELLES-CIRCONSTANCES if new facts were recorded since, AUCUNE otherwise; a référé still
   pending or an ordonnance without outcome → AUCUNE, saying what to record;
3. an express refusal or an OQTF → SUSPENSION (excess-of-power action + L. 521-1);
4. a complete deposit left unanswered past the implicit-rejection delay → SUSPENSION;
5. otherwise (nothing deposited, or deposited and no decision yet) → MESURES-UTILES.
The renewal window, the spread of the attempts, an OQTF and unproven facts add warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from app.cases import deadlines
from app.core.formats import date_long, duration_fr
from app.legal.codes import ORDONNANCE_OUTCOMES

CLOSED = {"RESOLU": "résolu", "CLOS": "clos"}
ATTEMPTS = frozenset({"TENTATIVE", "ERREUR"})
PRIOR_REQUESTS = frozenset({"PREF", "SUBST"})
HARMS = frozenset({"EMPLOI", "PRESTA"})
DECISIONS = frozenset({"REFUS", "OQTF"})
CARRIED_OUT = frozenset({"EXECUTION", "TITRE-OK", "API", "DEPOT", "CONVOC"})
# Facts that may be new circumstances after a rejected référé (procedure steps are not).
NOT_CIRCUMSTANCES = frozenset({"REFERE", "AUDIENCE", "ORDONNANCE", "AJ", "REPONSE"})
# Facts each route rests on: each of them should be proven by a pièce.
PROOF_NEEDED = {
    "MESURES-UTILES": ATTEMPTS | PRIOR_REQUESTS | HARMS,
    "SUSPENSION": frozenset({"DEPOT"}) | DECISIONS | HARMS,
    "EXECUTION": frozenset({"ORDONNANCE"}),
    "NOUVELLES-CIRCONSTANCES": frozenset({"ORDONNANCE"}),
}
SAME_WEEK_DAYS = 7
REP_MONTHS = 2  # time limit of the excess-of-power action against an express decision (CJA R. 421-1)


@dataclass(frozen=True)
class Fact:
    """One timeline event as the routing sees it."""

    date: date
    type: str
    outcome: str = ""
    reference: str = ""
    exhibits: tuple[int, ...] = ()  # numbers of the pièces that prove it
    id: int | None = None


@dataclass(frozen=True)
class Situation:
    """What the routing needs to know about a case."""

    status: str = "OUVERT"
    demarche: str = ""
    titre_expiry: date | None = None
    first_attempt: date | None = None
    blocages: tuple[str, ...] = ()
    consequences: tuple[str, ...] = ()
    events: tuple[Fact, ...] = ()


@dataclass(frozen=True)
class Warning:
    code: str
    message: str


@dataclass(frozen=True)
class Deadline:
    kind: str  # REJET-IMPLICITE, RECOURS, RENOUVELLEMENT, OQTF, AUDIENCE
    date: date
    label: str  # what to do by then, in French


@dataclass
class Routing:
    route: str
    reasons: list[str] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # Facts the documents build on.
    underlying: str | None = None  # NOUVELLES-CIRCONSTANCES: the article route of the new référé
    order: Fact | None = None  # the ordonnance to enforce, or the rejected one
    decision: Fact | None = None  # the express refusal or OQTF attacked
    implicit: deadlines.ImplicitRejection | None = None  # the implicit rejection attacked
    new_facts: list[Fact] = field(default_factory=list)
    renewal_in_time: bool | None = None  # None: not a renewal, or unknown
    renewal_window: tuple[date, date] | None = None
    first_filing: date | None = None

    @property
    def article_route(self) -> str:
        """The route whose article the requête cites (NOUVELLES-CIRCONSTANCES borrows one)."""
        return self.underlying if self.route == "NOUVELLES-CIRCONSTANCES" and self.underlying else self.route

    def warning_codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def as_json(self) -> dict:
        return {
            "route": self.route,
            "reasons": self.reasons,
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "missing": self.missing,
            "deadlines": [{"kind": d.kind, "date": d.date.isoformat(), "label": d.label} for d in self.deadlines],
            "underlying_route": self.underlying,
        }


def _sorted(events) -> list[Fact]:
    # Entered out of order is normal; same-day events keep their entry order.
    return sorted(events, key=lambda e: e.date)


def _last(events: list[Fact], types) -> Fact | None:
    found = [e for e in events if e.type in types]
    return found[-1] if found else None


def _first(events: list[Fact], types) -> Fact | None:
    return next((e for e in events if e.type in types), None)


def _on(day: date) -> str:
    return f"le {date_long(day)}"


def contradictions(events: list[Fact]) -> list[str]:
    """Dates that cannot all be true; the route waits until the timeline is corrected. A fact
    simply not recorded (an ordonnance whose référé was never entered) is not a contradiction."""
    problems = []
    referes = [e for e in events if e.type == "REFERE"]
    first_order = _first(events, {"ORDONNANCE"})
    if first_order and referes and all(r.date > first_order.date for r in referes):
        problems.append(f"L'ordonnance du {date_long(first_order.date)} est antérieure au référé déposé le "
                        f"{date_long(referes[0].date)}.")
    first_execution = _first(events, {"EXECUTION"})
    orders = [e for e in events if e.type == "ORDONNANCE"]
    if first_execution and orders and all(o.date > first_execution.date for o in orders):
        problems.append(f"L'exécution du {date_long(first_execution.date)} est antérieure à l'ordonnance du "
                        f"{date_long(orders[0].date)}.")
    refusal = _first(events, {"REFUS"})
    deposits = [e for e in events if e.type == "DEPOT"]
    if refusal and deposits and all(d.date > refusal.date for d in deposits):
        problems.append(f"Un refus est daté du {date_long(refusal.date)}, avant le dépôt de la demande "
                        f"({date_long(deposits[0].date)}).")
    return problems


def route_case(situation: Situation, today: date, rules: deadlines.Rules | None = None) -> Routing:
    """The route of the contract for this case, with reasons, warnings, deadlines and gaps."""
    rules = rules or deadlines.Rules()
    events = _sorted(situation.events)
    result = _decide(situation, events, today, rules)
    if result.route != "AUCUNE":
        _renewal_check(situation, events, result, rules)
        _attempts_check(events, result)
        _proof_check(events, result)
    if situation.status not in CLOSED:
        _oqtf_check(events, result, today)
    result.deadlines.sort(key=lambda d: d.date)
    return result


# --- the decision -------------------------------------------------------------------------------

def _decide(situation: Situation, events: list[Fact], today: date, rules: deadlines.Rules) -> Routing:
    if situation.status in CLOSED:
        granted = _last(events, {"TITRE-OK"})
        reason = f"Le dossier est {CLOSED[situation.status]}"
        reason += f" (décision favorable {_on(granted.date)})." if granted else "."
        return Routing("AUCUNE", [reason + " Il n'y a rien à déposer."])
    if not events:
        return Routing("AUCUNE", ["La chronologie est vide : aucune voie de droit ne peut être choisie sans "
                                  "faits datés."],
                       missing=["Enregistrer les tentatives de dépôt datées, avec une capture d'écran de chaque "
                                "erreur."])
    problems = contradictions(events)
    if problems:
        return Routing("AUCUNE", problems + ["La voie de droit sera proposée une fois la chronologie corrigée "
                                             "(un événement daté par erreur s'annule en ajoutant le bon)."],
                       missing=["Corriger les dates contradictoires de la chronologie."])

    judicial = _judicial(situation, events, today, rules)
    if judicial is not None:
        return judicial
    return _administrative(situation, events, today, rules)


def _judicial(situation, events, today, rules) -> Routing | None:
    """The answer when a référé already went before the judge; None when it says nothing."""
    last_refere = _last(events, {"REFERE"})
    order = _last(events, {"ORDONNANCE"})
    if last_refere is None and order is None:
        return None
    if last_refere is not None and (order is None or order.date < last_refere.date):
        result = Routing("AUCUNE", [f"Un référé a été déposé {_on(last_refere.date)} et aucune ordonnance n'est "
                                    "enregistrée depuis : la procédure est en cours, une nouvelle requête ne "
                                    "doit pas être déposée."],
                         missing=["Enregistrer l'ordonnance dès qu'elle est rendue, avec son issue."])
        hearing = _last(events, {"AUDIENCE"})
        if hearing and hearing.date >= today:
            result.deadlines.append(Deadline("AUDIENCE", hearing.date, "Audience devant le juge des référés."))
        return result
    if not order.outcome:
        return Routing("AUCUNE", [f"L'ordonnance du {date_long(order.date)} n'a pas d'issue enregistrée : "
                                  "selon qu'elle a enjoint au préfet d'agir ou rejeté la requête, la suite n'est "
                                  "pas la même."],
                       missing=["Indiquer l'issue de l'ordonnance (injonction, rejet, non-lieu, désistement) "
                                "dans la chronologie."], order=order)
    position = next(i for i, e in enumerate(events) if e is order)
    after = events[position + 1:]  # sorted by date, same-day events in entry order
    outcome_label = ORDONNANCE_OUTCOMES.get(order.outcome, order.outcome).lower()
    if order.outcome == "INJONCTION":
        # What the order asked (register the request, deliver an API, summon) done afterwards.
        done = _first(after, CARRIED_OUT)
        if done is None:
            elapsed = (today - order.date).days
            return Routing("EXECUTION", [
                f"Par ordonnance du {date_long(order.date)}, le juge des référés a enjoint au préfet d'agir.",
                f"Aucune exécution n'est enregistrée depuis, soit {duration_fr(elapsed)} plus tard : "
                "un nouveau référé serait le mauvais outil, il faut demander l'exécution de l'ordonnance "
                "et la liquidation de l'astreinte."], order=order)
        later = [e for e in after if e.date > done.date and e.type not in NOT_CIRCUMSTANCES]
        if not later:
            return Routing("AUCUNE", [f"L'ordonnance du {date_long(order.date)} a été exécutée "
                                      f"{_on(done.date)}. Si un nouveau blocage survient, enregistrez-le dans la "
                                      "chronologie."], order=order)
        result = _administrative(situation, [e for e in events if e.date > done.date], today, rules)
        result.reasons.insert(0, f"L'ordonnance du {date_long(order.date)} a été exécutée {_on(done.date)} ; "
                                 "les faits survenus depuis appellent une nouvelle démarche.")
        return result
    if order.outcome == "REJET":
        decision = _last(after, DECISIONS)
        if decision is not None:
            result = _administrative(situation, events, today, rules)
            result.reasons.insert(0, f"Le référé a été rejeté {_on(order.date)}, mais une décision est "
                                     "intervenue depuis : c'est elle qu'il faut attaquer.")
            return result
        new = [e for e in after if e.type not in NOT_CIRCUMSTANCES]
        if not new:
            return Routing("AUCUNE", [
                f"Le référé a été rejeté par ordonnance du {date_long(order.date)} et aucun fait nouveau n'est "
                "enregistré depuis : une nouvelle requête identique serait rejetée."],
                missing=["Enregistrer les faits nouveaux survenus depuis le rejet (nouvelles tentatives, perte "
                         "d'emploi, fin de droits…), chacun avec sa pièce."], order=order)
        underlying = _administrative(situation, events, today, rules)
        named = " ; ".join(f"{_fact_name(e)} {_on(e.date)}" for e in new)
        result = Routing("NOUVELLES-CIRCONSTANCES", [
            f"Le référé a été rejeté par ordonnance du {date_long(order.date)}.",
            f"Depuis, des faits nouveaux sont enregistrés : {named}. Un nouveau référé n'est recevable qu'en "
            "les nommant."], underlying=underlying.route, order=order, new_facts=new,
            implicit=underlying.implicit, decision=underlying.decision, deadlines=underlying.deadlines)
        return result
    # NON-LIEU, DESISTEMENT: the judge did not decide; the administrative facts decide.
    result = _administrative(situation, events, today, rules)
    result.reasons.insert(0, f"L'ordonnance du {date_long(order.date)} a conclu au {outcome_label} : le juge n'a "
                             "pas tranché, les faits administratifs décident de la suite."
                          if order.outcome == "NON-LIEU" else
                          f"Le référé s'est terminé par un désistement {_on(order.date)} : les faits "
                          "administratifs décident de la suite.")
    return result


def _administrative(situation, events, today, rules) -> Routing:
    """The route from the administration's side: a decision, a deposit, or nothing yet."""
    granted = _last(events, {"TITRE-OK"})
    decision = _last(events, DECISIONS)
    if decision is not None and (granted is None or granted.date < decision.date):
        refusal = _last(events, {"REFUS"})
        kind = "un refus explicite" if decision.type == "REFUS" else "une obligation de quitter le territoire"
        result = Routing("SUSPENSION", [
            f"L'administration a pris {kind} {_on(decision.date)} : une décision existe, un référé mesures "
            "utiles y ferait obstacle. La voie est le recours pour excès de pouvoir accompagné d'un "
            "référé-suspension (article L. 521-1 du code de justice administrative)."],
            decision=refusal or decision)
        if refusal is not None and decision.type != "OQTF":
            result.deadlines.append(Deadline(
                "RECOURS", deadlines.add_months(refusal.date, REP_MONTHS),
                "Fin du délai de recours contre le refus (deux mois à compter de sa notification, à vérifier "
                "sur la décision)."))
        return result
    if granted is not None and "CARTE" not in situation.blocages:
        return Routing("AUCUNE", [f"Une décision favorable est enregistrée {_on(granted.date)} : pensez à "
                                  "passer le dossier en « résolu » une fois le titre remis."])

    deposit = _first(events, {"DEPOT"})
    if deposit is not None and (granted is None or "CARTE" not in situation.blocages):
        facts = deadlines.CaseFacts(status=situation.status, titre_expiry=situation.titre_expiry, events=tuple(events))
        rejection = deadlines.implicit_rejection(facts, rules)
        if rejection is not None and rejection.rejection_on <= today:
            result = Routing("SUSPENSION", [
                f"Une demande complète a été déposée {_on(deposit.date)} et l'administration n'a pas répondu : "
                f"un rejet implicite est né {_on(rejection.rejection_on)} (silence de "
                f"{rules.implicit_rejection_months} mois).",
                "Une décision existe donc : un référé mesures utiles y ferait obstacle. La voie est le recours "
                "pour excès de pouvoir contre ce rejet implicite, avec un référé-suspension (article L. 521-1 du "
                "code de justice administrative), et la demande de ses motifs (article L. 232-4 du code des "
                "relations entre le public et l'administration)."], implicit=rejection)
            if rejection.challenge_until >= today:
                result.deadlines.append(Deadline(
                    "RECOURS", rejection.challenge_until,
                    "Fin du délai de recours contre le rejet implicite (si l'accusé de réception mentionnait les "
                    "voies et délais de recours) ; demander les motifs avant cette date le proroge."))
            return result
        result = Routing("MESURES-UTILES", [
            f"La demande a été déposée {_on(deposit.date)} ; aucune décision n'existe encore, le rejet implicite "
            + (f"ne naîtra que {_on(rejection.rejection_on)}." if rejection else "n'est pas né."),
            "Sans décision à suspendre, le référé mesures utiles (article L. 521-3 du code de justice "
            "administrative) permet de demander ce que l'administration doit faire (attestation, rendez-vous)."])
        if rejection is not None:
            result.deadlines.append(Deadline(
                "REJET-IMPLICITE", rejection.rejection_on,
                "Naissance du rejet implicite : la voie devient le recours pour excès de pouvoir avec "
                "référé-suspension."))
        return result

    attempts = [e for e in events if e.type in ATTEMPTS]
    reasons = []
    if attempts:
        span = (f"entre le {date_long(attempts[0].date)} et le {date_long(attempts[-1].date)}"
                if len(attempts) > 1 else _on(attempts[0].date))
        reasons.append(f"Aucune demande n'a pu être déposée : {len(attempts)} tentative"
                       f"{'s' if len(attempts) > 1 else ''} sur l'ANEF {span} "
                       f"{'ont' if len(attempts) > 1 else 'a'} échoué.")
    else:
        reasons.append("Aucun dépôt n'est enregistré.")
    reasons.append("Aucune décision administrative n'existe (ni refus, ni rejet implicite) : il n'y a rien à "
                   "suspendre. La voie est le référé mesures utiles (article L. 521-3 du code de justice "
                   "administrative), qui ne doit faire obstacle à aucune décision.")
    result = Routing("MESURES-UTILES", reasons)
    prior = _last(events, PRIOR_REQUESTS)
    if prior is not None:
        result.reasons.append(f"Une demande écrite a été adressée à la préfecture {_on(prior.date)} : elle "
                              "établit l'utilité de la mesure.")
    else:
        result.missing.append("Adresser au préfet une demande écrite (LRAR) de solution de substitution avant de "
                              "saisir le juge : elle établit l'utilité de la mesure.")
    if not attempts:
        result.missing.append("Enregistrer les tentatives de dépôt datées, à des semaines différentes, avec une "
                              "capture d'écran de chaque erreur.")
    return result


# --- warnings ------------------------------------------------------------------------------------

def _renewal_check(situation: Situation, events: list[Fact], result: Routing, rules) -> None:
    if situation.demarche != "RENOUV":
        return
    facts = deadlines.CaseFacts(status=situation.status, titre_expiry=situation.titre_expiry, events=tuple(events))
    expiry = deadlines.titre_expiry_of(facts)
    filings = [e.date for e in events if e.type in ATTEMPTS | {"DEPOT"}]
    if situation.first_attempt:
        filings.append(situation.first_attempt)
    result.first_filing = min(filings) if filings else None
    if expiry is None:
        result.missing.append("Renseigner la date d'expiration du titre : elle décide si le renouvellement a été "
                              "demandé dans les délais (article R. 431-5 du CESEDA).")
        return
    window = deadlines.renewal_window(expiry, rules)
    result.renewal_window = window
    if result.first_filing is None:
        return
    if result.first_filing > window[1]:
        result.renewal_in_time = False
        result.warnings.append(Warning("HORS-DELAI", (
            f"La première démarche de renouvellement enregistrée date du "
            f"{date_long(result.first_filing)}, après la fin de la période de dépôt ({date_long(window[1])}, "
            f"{rules.renewal_end_days}e jour avant l'expiration du titre le {date_long(expiry)} ; article R. 431-5 "
            "du CESEDA). La personne n'a pas droit à une API d'office et le juge ne présumera pas l'urgence : "
            "il faut la démontrer par les conséquences (emploi, prestations, logement), pièces à l'appui.")))
    elif any(window[0] <= day <= window[1] for day in filings):
        result.renewal_in_time = True
    else:  # every attempt came before the window opened: not late, but not « in time » either
        result.missing.append(
            f"Les démarches de renouvellement enregistrées précèdent l'ouverture de la période de dépôt : "
            f"refaire une tentative entre le {date_long(window[0])} et le {date_long(window[1])}, avec capture "
            "d'écran, pour que la demande soit présentée dans les délais (article R. 431-5 du CESEDA).")


def _attempts_check(events: list[Fact], result: Routing) -> None:
    if result.article_route != "MESURES-UTILES":
        return
    attempts = [e for e in events if e.type in ATTEMPTS]
    if not attempts:
        return
    first, last = attempts[0].date, attempts[-1].date
    if (last - first).days >= SAME_WEEK_DAYS:
        return
    when = _on(first) if first == last else f"du {date_long(first)} au {date_long(last)}"
    result.warnings.append(Warning("MEME-SEMAINE", (
        f"Toutes les tentatives enregistrées tiennent dans la même semaine ({when}). Le juge attend des "
        "tentatives répétées à des semaines différentes (CE, 10 juin 2020, n° 435594) : refaites une tentative "
        "une autre semaine, avec une capture d'écran de l'erreur.")))


def _oqtf_check(events: list[Fact], result: Routing, today: date) -> None:
    oqtf = _last(events, {"OQTF"})
    if oqtf is None:
        return
    granted = _last(events, {"TITRE-OK"})
    if granted is not None and granted.date > oqtf.date:
        return
    result.warnings.append(Warning("OQTF", (
        f"Une obligation de quitter le territoire a été notifiée {_on(oqtf.date)} : les délais pour la contester "
        "se comptent en jours, pas en mois (le délai exact figure sur la décision). Confiez le dossier à un·e "
        "avocat·e aujourd'hui même.")))
    result.deadlines.append(Deadline("OQTF", oqtf.date, "OQTF notifiée : recours dans les jours qui suivent "
                                                        "(délai indiqué sur la décision)."))


def _proof_check(events: list[Fact], result: Routing) -> None:
    needed = PROOF_NEEDED.get(result.route, frozenset())
    if result.route == "NOUVELLES-CIRCONSTANCES":
        unproven = [e for e in [result.order, *result.new_facts] if e is not None and not e.exhibits]
    elif result.route == "EXECUTION":
        unproven = [result.order] if result.order is not None and not result.order.exhibits else []
    else:
        unproven = [e for e in events if e.type in needed and not e.exhibits]
    if not unproven:
        return
    named = " ; ".join(f"{_fact_name(e)} {_on(e.date)}" for e in unproven[:8])
    more = f" (et {len(unproven) - 8} autres)" if len(unproven) > 8 else ""
    result.warnings.append(Warning("SANS-PIECE", (
        f"Aucune pièce ne prouve : {named}{more}. Ajoutez pour chacun une capture d'écran, un courrier ou un "
        "justificatif (rattaché à l'événement) : le juge ne retient que ce qui est prouvé.")))


FACT_NAMES = {
    "TENTATIVE": "la tentative de dépôt", "ERREUR": "l'erreur de l'ANEF", "DEPOT": "le dépôt de la demande",
    "API": "l'attestation de prolongation d'instruction", "API-FIN": "la fin de l'attestation de prolongation",
    "CCC": "le contact avec le centre de contact citoyen", "PAN": "la visite au point d'accueil numérique",
    "PREF": "le courrier à la préfecture", "REPONSE": "la réponse de l'administration",
    "SUBST": "la demande de solution de substitution", "CONVOC": "la convocation en préfecture",
    "DDD": "la saisine du Défenseur des droits", "AJ": "la demande d'aide juridictionnelle",
    "REFERE": "le référé", "AUDIENCE": "l'audience", "ORDONNANCE": "l'ordonnance",
    "EXECUTION": "l'exécution de l'ordonnance", "REFUS": "le refus", "OQTF": "l'obligation de quitter le territoire",
    "TITRE-EXP": "l'expiration du titre", "TITRE-OK": "la décision favorable",
    "EMPLOI": "la perte ou suspension d'emploi", "PRESTA": "la suspension des prestations",
    "AUTRE": "l'événement",
}


def _fact_name(event: Fact) -> str:
    return FACT_NAMES.get(event.type, "l'événement")


def exhibits_by_event(events, exhibits) -> dict[int, tuple[int, ...]]:
    """Event id → numbers of the pièces that prove it: attached to the event, or — when attached to
    no event — captured the same day. `events` have .id and .date; `exhibits` .number, .event_id, .day."""
    ids = {e.id for e in events}
    return {e.id: tuple(x.number for x in exhibits
                        if x.event_id == e.id or (x.event_id not in ids and x.day == e.date))
            for e in events}
