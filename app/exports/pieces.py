"""The standard pièces a lawyer always needs, and which of them a case still lacks.

Pure: a CaseRow and its ExhibitRow in, French labels out. The bordereau (of the Télérecours
bundle and of the requête) shows each missing one as a highlighted « [À FOURNIR : …] » line, so
the gap is seen before filing, not at the hearing.

A pièce counts as present when an exhibit of the case carries its nature (app.legal.codes.NATURES),
whatever its file's state: a missing file is reported as such elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.exports.rows import CaseRow, ExhibitRow

PLACEHOLDER_PREFIX = "[À FOURNIR : "


@dataclass(frozen=True, slots=True)
class StandardPiece:
    nature: str  # the exhibit nature that provides it
    label: str  # what the bordereau asks for


TITRE = StandardPiece("TITRE", "titre de séjour expiré (copie recto verso)")
PASSEPORT = StandardPiece("PASSEPORT", "passeport (pages d'identité et de validité)")
ATTESTATION = StandardPiece("ATTESTATION", "attestation de dépôt de la demande sur l'ANEF")
ACCUSE_LRAR = StandardPiece("ACCUSE-LRAR", "accusé de réception de la lettre recommandée adressée à la préfecture")
EMPLOI = StandardPiece("EMPLOI", "justificatif de la perte ou de la suspension de l'emploi (courrier de "
                                 "l'employeur, contrat, bulletins de salaire)")
PRESTATIONS = StandardPiece("PRESTATIONS", "justificatif de la suspension des prestations (CAF, France Travail, "
                                           "CPAM)")

# Consequences whose proof is a PRESTATIONS pièce (an EMPLOI consequence needs an EMPLOI one).
BENEFIT_CONSEQUENCES = frozenset({"FT", "CAF", "CPAM"})


def needed_pieces(case: CaseRow) -> list[StandardPiece]:
    """The standard pièces the case's facts call for, in bordereau order.

    - the expired titre for a renewal (démarche RENOUV) or when a TITRE-EXP event is recorded;
    - the passport, always (identity before any court);
    - the attestation de dépôt when a DEPOT event is recorded;
    - the accusé LRAR when a letter to the préfecture (PREF) or a substitution request (SUBST)
      is recorded;
    - the proof of each harm the requête argues: EMPLOI event or consequence; PRESTA event or a
      CAF / France Travail / CPAM consequence.
    """
    types = {event.type for event in case.events}
    consequences = set(case.consequences)
    needed = []
    if case.demarche == "RENOUV" or "TITRE-EXP" in types:
        needed.append(TITRE)
    needed.append(PASSEPORT)
    if "DEPOT" in types:
        needed.append(ATTESTATION)
    if types & {"PREF", "SUBST"}:
        needed.append(ACCUSE_LRAR)
    if "EMPLOI" in types or "EMPLOI" in consequences:
        needed.append(EMPLOI)
    if "PRESTA" in types or consequences & BENEFIT_CONSEQUENCES:
        needed.append(PRESTATIONS)
    return needed


def missing_standard_pieces(case: CaseRow, exhibits: Iterable[ExhibitRow]) -> list[str]:
    """Labels of the standard pièces the case calls for and no exhibit provides (by nature)."""
    present = {x.nature for x in exhibits if x.nature}
    return [piece.label for piece in needed_pieces(case) if piece.nature not in present]


def placeholder(label: str) -> str:
    """« [À FOURNIR : passeport (…)] »; a label already in that form is kept."""
    label = " ".join(label.split())
    if label.startswith("[À FOURNIR"):
        return label
    return f"{PLACEHOLDER_PREFIX}{label}]"
