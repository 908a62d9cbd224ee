"""Synthetic 1280×800 screenshots of ANEF error pages, for the demo, the OCR test and the benchmark."""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
WIDTH, HEIGHT = 1280, 800

# Messages as ANEF shows them (wording from associations' reports); the demo picks by blocking code.
MESSAGES = {
    "ACC-AUTH": ("Connexion impossible", "Identifiant ou mot de passe incorrect. Le lien de réinitialisation "
                 "a expiré, veuillez recommencer la procédure."),
    "DEP-TITRE": ("Dépôt impossible", "Vous détenez déjà un titre de séjour en cours de validité. Vous ne pouvez "
                  "pas déposer une nouvelle demande pour le moment."),
    "DEP-STATUT": ("Démarche indisponible", "Vous n'êtes pas reconnu bénéficiaire de la protection internationale. "
                   "Cette démarche ne vous est pas accessible."),
    "DEP-CATEG": ("Aucune démarche disponible", "Aucune démarche ne correspond à votre situation. Rapprochez-vous "
                  "de votre préfecture."),
    "DEP-ERREUR": ("Erreur technique", "Une erreur technique est survenue, veuillez réessayer ultérieurement. "
                   "Le paiement du timbre fiscal n'a pas pu être enregistré."),
    "DEP-SIMULT": ("Demande en cours", "Une demande est déjà en cours d'instruction. Vous ne pouvez pas effectuer "
                   "une autre démarche tant que celle-ci n'est pas terminée."),
    "DEP-MODIF": ("Modification impossible", "Votre demande ne peut plus être modifiée. Le délai pour compléter "
                  "votre dossier est dépassé."),
    "CHG-SITU": ("Changement impossible", "Le changement d'adresse n'a pas pu être enregistré. Une erreur "
                 "inattendue est survenue."),
    "RDV": ("Aucun créneau disponible", "Aucun rendez-vous n'est disponible pour le moment. Veuillez consulter "
            "à nouveau le calendrier ultérieurement."),
    "INSTR-SILENCE": ("Demande en cours d'instruction", "Votre demande est en cours d'instruction par la "
                      "préfecture. Aucune action n'est attendue de votre part."),
    "API-ABS": ("Attestation indisponible", "Aucune attestation de prolongation d'instruction n'est disponible "
                "pour votre demande."),
    "API-RENOUV": ("Attestation expirée", "Votre attestation de prolongation d'instruction a expiré. Aucun "
                   "renouvellement n'est proposé."),
    "API-MENTION": ("Attestation délivrée", "Cette attestation ne vous autorise pas à travailler. Elle ne vaut "
                    "pas titre de séjour."),
    "CLOS": ("Demande classée", "Votre demande a été classée sans suite faute de réponse à la demande de "
             "pièces complémentaires."),
    "CARTE": ("Remise du titre", "Votre titre est disponible. Aucun rendez-vous de remise n'est proposé "
              "actuellement par la préfecture."),
    "ACCOMP": ("Service indisponible", "Le service est momentanément indisponible. Veuillez réessayer plus tard "
               "ou contacter le centre de contact citoyen."),
    "SUBST": ("Erreur de dépôt", "Votre demande n'a pas pu être transmise. Aucune solution alternative n'est "
              "proposée en ligne."),
    "NUM": ("Adresse électronique requise", "Une adresse électronique valide est obligatoire pour créer un "
            "compte sur la plateforme."),
}


@lru_cache(maxsize=16)
def font(size: int, bold: bool = False):
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = DEJAVU / name
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def anef_screenshot(title: str, message: str, *, details: list[str] | None = None,
                    footer: str = "", fmt: str = "PNG") -> bytes:
    """A clean 1280×800 screenshot of an ANEF page showing an error box (bytes in the given format)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "#f6f6f6")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 90), fill="#000091")
    draw.text((40, 22), "ANEF", font=font(36, bold=True), fill="white")
    draw.text((190, 32), "Administration numérique pour les étrangers en France", font=font(24), fill="white")
    draw.text((40, 120), "Mon espace personnel", font=font(22), fill="#3a3a3a")
    draw.rectangle((40, 170, WIDTH - 40, 620), fill="white", outline="#ce0500", width=3)
    draw.rectangle((40, 170, 52, 620), fill="#ce0500")
    draw.text((80, 195), title, font=font(32, bold=True), fill="#ce0500")
    y = 260
    for line in textwrap.wrap(message, width=62):
        draw.text((80, y), line, font=font(26), fill="#1e1e1e")
        y += 40
    y += 15
    for line in details or []:
        draw.text((80, y), line, font=font(22), fill="#3a3a3a")
        y += 34
    draw.rectangle((80, 650, 330, 705), fill="#000091")
    draw.text((108, 663), "Retour à l'accueil", font=font(22), fill="white")
    if footer:
        draw.text((40, 750), footer, font=font(18), fill="#666666")
    out = io.BytesIO()
    image.save(out, fmt, compress_level=1) if fmt == "PNG" else image.save(out, fmt)
    return out.getvalue()
