"""The contract's spreadsheet columns and formula-injection guards, shared by import and export."""

from __future__ import annotations

CASE_COLUMNS = [
    "Référence", "Nom", "Prénom", "Date de naissance", "Nationalité", "Numéro étranger", "Téléphone",
    "Courriel", "Préfecture", "Démarche", "Titre", "Expiration du titre", "Numéro de demande ANEF",
    "Blocage", "Statut", "Première tentative", "Conséquences", "Récit",
]
EVENT_COLUMNS = ["Référence", "Date", "Type", "Description"]
# Optional: the outcome of an ORDONNANCE or the kind of a REFERE; files without it still import.
EVENT_OPTIONAL_COLUMNS = ["Issue"]
PERSONAL_COLUMNS = {"Nom", "Prénom", "Date de naissance", "Numéro étranger", "Téléphone", "Courriel", "Récit"}
REQUIRED_COLUMNS = ("Préfecture", "Démarche", "Blocage", "Statut")

# A text starting with one of these is run as a formula by spreadsheet programs (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


def neutralise(text: str) -> str:
    """Prefix text that a spreadsheet would evaluate, so it stays literal."""
    if text and text.startswith(FORMULA_TRIGGERS):
        return GUARD + text
    return text


def unneutralise(text: str) -> str:
    """Undo `neutralise`, so an exported sheet re-imports unchanged."""
    if text and text.startswith(GUARD) and text[1:2] and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text
