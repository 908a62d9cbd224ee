"""Demo data: two associations, one account per role, and realistic cases with timelines.

Deterministic (seeded by the association's slug) so that every installation shows the
same demo. Refused in production by the CLI.
"""

from __future__ import annotations

import random
import secrets
from datetime import date, timedelta

from sqlalchemy import select

from app.auth import services as accounts
from app.auth.models import Organisation, User
from app.cases import services as cases
from app.cases.services import CaseInput, EventInput
from app.cases.taxonomy import Taxonomy, sync_shipped_codes
from app.core.clock import today as clock_today
from app.extensions import db

ORGS = [
    ("demo-lyon", "Permanence ANEF Lyon (démo)", "LYO", ["69", "69", "69", "38", "42", "01", "26", "73"]),
    ("demo-paris", "Collectif accès aux droits Paris (démo)", "PAR", ["75", "75", "93", "93", "94", "92", "95", "91"]),
]
ROLES = [("benevole", "volunteer", "Bénévole"), ("avocat", "lawyer", "Me"),
         ("coordination", "coordinator", "Coordination"), ("admin", "admin", "Administration")]

FIRST = ["Amadou", "Fatoumata", "Mohamed", "Aïcha", "Youssef", "Mariam", "Ibrahima", "Nadia", "Oleksandr",
         "Olena", "Thi Hương", "Văn Minh", "Samira", "Karim", "Aminata", "Mamadou", "Leïla", "Rachid",
         "Hawa", "Abdoulaye", "Svetlana", "Ahmed", "Khadija", "Moussa", "Zeynep", "Tigran", "Ana", "Jean-Baptiste"]
LAST = ["Diallo", "Traoré", "Benali", "Haddad", "Koné", "Camara", "Shevchenko", "Nguyễn", "Trần", "Bensaïd",
        "Mansouri", "Touré", "Keïta", "Coulibaly", "Petrosyan", "Yılmaz", "Mbappé", "Ndiaye", "Ouédraogo",
        "Sow", "Bouzid", "Kovalenko", "Fofana", "Sissoko", "Pereira"]
NATIONALITIES = ["malienne", "sénégalaise", "algérienne", "marocaine", "tunisienne", "ivoirienne", "ukrainienne",
                 "vietnamienne", "guinéenne", "arménienne", "turque", "camerounaise", "comorienne"]
TITRES = ["salarié", "vie privée et familiale", "étudiant", "carte de résident", "passeport talent",
          "travailleur temporaire", "bénéficiaire de la protection subsidiaire", "parent d'enfant français"]

SCENARIOS = {
    "ACC-AUTH": ("Impossible d'ouvrir une session sur l'ANEF : le message « identifiant ou mot de passe incorrect » "
                 "s'affiche et le courriel de réinitialisation n'arrive jamais, malgré plusieurs essais."),
    "DEP-TITRE": ("Lors du renouvellement, l'ANEF indique « vous détenez déjà un titre en cours de validité » alors "
                  "que la carte précédente a été restituée en préfecture. Le dépôt est impossible."),
    "DEP-STATUT": ("La plateforme affiche « vous n'êtes pas reconnu bénéficiaire de la protection internationale » "
                   "alors que la décision de l'OFPRA a été notifiée il y a plusieurs mois."),
    "DEP-CATEG": ("Aucune démarche proposée par l'ANEF ne correspond à la situation : changement de statut "
                  "d'étudiant vers salarié avec un employeur déjà trouvé."),
    "DEP-ERREUR": ("À l'étape du paiement du timbre fiscal, « une erreur technique est survenue, veuillez réessayer "
                   "ultérieurement ». Le téléversement des justificatifs échoue également."),
    "DEP-SIMULT": ("L'ANEF indique une demande « en cours d'instruction » qui bloque toute nouvelle démarche, "
                   "mais la préfecture affirme n'avoir aucun dossier en cours."),
    "DEP-MODIF": ("Impossible de compléter la demande après la demande de pièces : le bouton « compléter » "
                  "n'apparaît pas et aucun historique de ce qui a été envoyé n'est disponible."),
    "CHG-SITU": "Le changement d'adresse après un déménagement est impossible : le formulaire renvoie une erreur.",
    "RDV": ("Aucun créneau de rendez-vous pour la prise d'empreintes n'est proposé depuis des semaines ; "
            "le calendrier reste vide à chaque connexion."),
    "INSTR-SILENCE": ("Le dossier est « en cours d'instruction » depuis plusieurs mois, sans aucune réponse "
                      "de la préfecture malgré les relances."),
    "API-ABS": ("Demande complète déposée dans les délais, mais aucune attestation de prolongation d'instruction "
                "n'a été délivrée : la personne n'a plus de document valide."),
    "API-RENOUV": ("L'attestation de prolongation d'instruction a expiré et n'a pas été renouvelée ; "
                   "l'employeur a suspendu le contrat de travail."),
    "API-MENTION": ("L'API délivrée ne mentionne pas l'autorisation de travail : France Travail refuse "
                    "l'inscription et l'employeur refuse la reprise."),
    "CLOS": ("La demande a été classée sans suite après une demande de pièces que la personne n'a jamais "
             "reçue dans son espace ANEF."),
    "CARTE": ("Attestation de décision favorable délivrée, mais aucun rendez-vous n'est proposé pour retirer "
              "la carte ; le titre n'est toujours pas remis."),
    "ACCOMP": ("Le centre de contact citoyen ne répond pas ou se contente de transmettre ; le point d'accueil "
               "numérique de la préfecture est fermé."),
    "SUBST": ("La solution de substitution (dépôt papier) a été demandée par courrier recommandé, sans réponse "
              "ni convocation."),
    "NUM": ("La personne n'a ni ordinateur ni adresse électronique et ne peut pas utiliser la plateforme seule ; "
            "elle dépend entièrement de la permanence."),
}
CONSEQUENCES = ["EMPLOI", "FT", "CAF", "CPAM", "LOGEMENT", "ETUDES", "VOYAGE", "FAMILLE", "BANQUE"]


def _ticket(rng: random.Random, year: int) -> str:
    return f"{year}-CCC-{rng.randint(100000, 999999)}"


def _timeline(rng: random.Random, start: date, code: str, renewal: bool, today: date) -> list[EventInput]:
    """A plausible sequence of attempts, remedies and consequences, spaced over weeks."""
    events, day = [], start

    def step(days_min, days_max, type_, text, ref=""):
        nonlocal day
        day = day + timedelta(days=rng.randint(days_min, days_max))
        if day < today:
            events.append(EventInput(day, type_, text, ref))

    step(0, 0, "TENTATIVE", "Première tentative de dépôt sur l'ANEF avec la personne.")
    step(0, 0, "ERREUR", SCENARIOS[code].split(":")[0].split(";")[0] + ".")
    step(5, 12, "TENTATIVE", "Nouvelle tentative, une autre semaine, même blocage.")
    step(2, 10, "CCC", "Formulaire de contact du CCC rempli ; réponse automatique sans solution.",
         _ticket(rng, day.year))
    if rng.random() < 0.7:
        step(7, 21, "PAN", "Passage au point d'accueil numérique : on nous renvoie vers le CCC.")
    if rng.random() < 0.6:
        step(7, 20, "PREF", "Courriel à la préfecture exposant le blocage, captures d'écran jointes.",
             f"1A {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)} {rng.randint(1, 9)}")
    if rng.random() < 0.45:
        step(10, 30, "SUBST", "Demande écrite de solution de substitution (dépôt papier).")
    if rng.random() < 0.35:
        step(5, 20, "EMPLOI", "L'employeur suspend le contrat faute de document valide.")
    if rng.random() < 0.3:
        step(5, 20, "PRESTA", "Suspension des droits CAF et de l'inscription à France Travail.")
    if rng.random() < 0.3:
        step(5, 15, "DDD", "Saisine du Défenseur des droits en ligne.")
    if rng.random() < 0.35:
        step(3, 10, "AJ", "Demande d'aide juridictionnelle déposée.")
        step(3, 15, "REFERE", "Référé mesures utiles déposé au tribunal administratif.",
             f"{day.year}{rng.randint(10000, 99999)}")
        step(7, 15, "AUDIENCE", "Audience devant le juge des référés.")
        outcome = rng.random()
        if outcome < 0.75:
            step(1, 5, "ORDONNANCE", "Ordonnance : injonction au préfet d'enregistrer la demande sous 15 jours, "
                                     "astreinte de 100 € par jour.")
            if rng.random() < 0.7:
                step(10, 30, "EXECUTION", "La préfecture enregistre la demande et délivre une attestation.")
                step(0, 5, "API", "Attestation de prolongation d'instruction délivrée.")
        else:
            step(1, 5, "ORDONNANCE", "Ordonnance de rejet : urgence non caractérisée selon le juge.")
    elif rng.random() < 0.4:
        step(10, 40, "DEPOT", "Le dépôt finit par passer : attestation de dépôt téléchargée.")
        if rng.random() < 0.5:
            step(5, 30, "API", "API délivrée après relance.")
    if renewal and rng.random() < 0.25:
        step(30, 90, "TITRE-OK", "Décision favorable : titre délivré.")
    return events


def _case_input(rng: random.Random, code: str, prefectures: list[str], today: date, start: date) -> CaseInput:
    renewal = rng.random() < 0.55
    first, last = rng.choice(FIRST), rng.choice(LAST)
    others = [c for c in rng.sample(sorted(SCENARIOS), 2) if c != code][: rng.randint(0, 2)]
    expiry = start + timedelta(days=rng.randint(-60, 120)) if renewal or rng.random() < 0.3 else None
    birth = date(rng.randint(1965, 2004), rng.randint(1, 12), rng.randint(1, 28))
    return CaseInput(
        prefecture=rng.choice(prefectures), demarche="RENOUV" if renewal else rng.choice(
            ["PREMIERE", "CHGT-STATUT", "DUPLICATA", "CHGT-SITU", "TIV", "DCEM"]),
        status="OUVERT", blocages=[code] + others,
        consequences=rng.sample(CONSEQUENCES, rng.randint(0, 3)),
        titre_actuel=rng.choice(TITRES) if renewal else "", titre_demande=rng.choice(TITRES),
        titre_expiry=expiry, anef_number=f"ANEF-{prefectures[0]}-{start.year}-{rng.randint(1, 999999):06d}",
        first_attempt=start, narrative=f"{SCENARIOS[code]} Situation suivie depuis le {start.strftime('%d/%m/%Y')}.",
        last_name=last, first_name=first, birth_date=birth, nationality=rng.choice(NATIONALITIES),
        numero_etranger=str(rng.randint(10**9, 10**10 - 1)),
        phone=f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        email=f"{first.split()[0].lower()}.{rng.randint(1, 999)}@example.org".encode("ascii", "ignore").decode(),
        language=rng.choice(["français", "arabe", "anglais", "ukrainien", "vietnamien", "bambara", "soninké"]),
        consent_date=start, consent_collected_by="Permanence du mardi",
        consent_followup=True, consent_litigation=rng.random() < 0.6, consent_statistics=rng.random() < 0.8,
    )


def _status(events: list[EventInput], rng: random.Random) -> str:
    types = {e.type for e in events}
    if "TITRE-OK" in types or "EXECUTION" in types:
        return "RESOLU"
    if rng.random() < 0.08:
        return "CLOS"
    return "EN-COURS" if len(events) > 3 else "OUVERT"


def seed(password: str | None, cases_per_org: int = 34, today: date | None = None) -> tuple[str, bool]:
    """Create the demo organisations, accounts and cases if missing.

    Returns (password, created). With DEMO_PASSWORD set, existing demo accounts get it again.
    The demo password bypasses the password policy on purpose: it is set by the installer.
    """
    today = today or clock_today()
    sync_shipped_codes()
    reset_passwords = bool(password)
    password = password or secrets.token_urlsafe(12)
    created = False
    for slug, name, prefix, prefectures in ORGS:
        org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
        new_org = org is None
        if new_org:
            org = accounts.create_organisation(slug, name, prefix)
            created = True
        users = {}
        for local, role, label in ROLES:
            email = f"{local}@{slug}.test"
            user = db.session.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(email=email, org_id=org.id, role=role, full_name=f"{label} {slug[5:].title()}",
                            password_hash=accounts.hash_password(password))
                db.session.add(user)
                created = True
            elif reset_passwords:
                user.password_hash = accounts.hash_password(password)
            users[role] = user
        db.session.flush()
        if new_org:
            _seed_cases(org, users, prefectures, cases_per_org, today)
    return password, created


def _seed_cases(org, users, prefectures, count, today) -> None:
    rng = random.Random(org.slug)
    taxonomy = Taxonomy(org.id)
    codes = sorted(SCENARIOS)
    for i in range(count):
        code = codes[i % len(codes)]
        start = today - timedelta(days=rng.randint(10, 540))
        data = _case_input(rng, code, prefectures, today, start)
        events = _timeline(rng, start, code, data.demarche == "RENOUV", today)
        data.status = _status(events, rng)
        data.volunteer_id = users["volunteer"].id
        data.lawyer_id = users["lawyer"].id if any(e.type == "REFERE" for e in events) else None
        if i % 11 == 5:  # some cases are opened before the person's identity is known
            for name in ("last_name", "first_name", "numero_etranger", "phone", "email"):
                setattr(data, name, "")
            data.birth_date = None
        case = cases.create_case(org, data, users["volunteer"], today=today, taxonomy=taxonomy,
                                 opened_on=start)
        for event in events:
            cases.add_event(case, event, users["volunteer"], today=today)
    from app.core import hooks

    hooks.run("demo_seeded", org=org, users=users, today=today)
