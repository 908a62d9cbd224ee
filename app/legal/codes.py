"""Stable codes of the legal engine (shared/contract.md): outcomes of an ORDONNANCE, kinds of
REFERE, routes, warnings, and the natures of pièces."""

from __future__ import annotations

ORDONNANCE_OUTCOMES = {
    "INJONCTION": "Injonction prononcée",
    "REJET": "Rejet",
    "NON-LIEU": "Non-lieu à statuer",
    "DESISTEMENT": "Désistement",
}
REFERE_KINDS = {
    "L521-3": "Référé mesures utiles (L. 521-3)",
    "L521-1": "Référé-suspension (L. 521-1)",
    "L521-2": "Référé-liberté (L. 521-2)",
}
# The event types whose `outcome` means something, and what it may hold.
OUTCOMES_BY_TYPE = {"ORDONNANCE": ORDONNANCE_OUTCOMES, "REFERE": REFERE_KINDS}

ROUTES = {
    "MESURES-UTILES": "Référé mesures utiles (article L. 521-3 du code de justice administrative)",
    "SUSPENSION": "Recours pour excès de pouvoir et référé-suspension (article L. 521-1 du code de justice "
                  "administrative)",
    "EXECUTION": "Demande d'exécution de l'ordonnance obtenue",
    "NOUVELLES-CIRCONSTANCES": "Nouveau référé fondé sur des circonstances nouvelles",
    "AUCUNE": "Aucune requête à déposer pour l'instant",
}
# For buttons and short mentions.
ROUTE_SHORT = {
    "MESURES-UTILES": "référé mesures utiles",
    "SUSPENSION": "référé-suspension",
    "EXECUTION": "demande d'exécution",
    "NOUVELLES-CIRCONSTANCES": "nouveau référé (circonstances nouvelles)",
    "AUCUNE": "aucune requête",
}
WARNINGS = ("HORS-DELAI", "MEME-SEMAINE", "OQTF", "SANS-PIECE")

# What a pièce is, as the bordereau names it. The default comes from the sniffed type.
NATURES = {
    "CAPTURE": "Capture d'écran",
    "PHOTO": "Photographie",
    "COURRIER": "Courrier",
    "COURRIEL": "Courriel",
    "ACCUSE-LRAR": "Accusé de réception LRAR",
    "DECISION": "Décision administrative",
    "ORDONNANCE": "Ordonnance du tribunal",
    "ATTESTATION": "Attestation (dépôt, API, décision favorable)",
    "TITRE": "Titre de séjour",
    "PASSEPORT": "Passeport",
    "EMPLOI": "Justificatif d'emploi (contrat, bulletin, courrier de l'employeur)",
    "PRESTATIONS": "Justificatif de prestations (CAF, France Travail, CPAM)",
    "DOCUMENT": "Document",
}


def default_nature(mime: str) -> str:
    """The nature a file most likely has, from its sniffed type (the user may change it)."""
    if mime.startswith("image/"):
        return "CAPTURE"
    if mime == "message/rfc822":
        return "COURRIEL"
    return "DOCUMENT"


def outcome_error(event_type: str, outcome: str) -> str | None:
    """A French reason when `outcome` does not fit the event type; None when it does."""
    if not outcome:
        return None
    allowed = OUTCOMES_BY_TYPE.get(event_type)
    if allowed is None:
        return "Seuls une ordonnance (issue) et un référé (type) portent ce champ."
    if outcome not in allowed:
        return f"« {outcome[:20]} » ne convient pas : choisissez parmi {', '.join(allowed)}."
    return None
