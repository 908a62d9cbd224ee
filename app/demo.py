"""Demo data: two associations, one account per role, and realistic cases with timelines.

Deterministic (seeded by the association's slug, dated relative to today) so that every
installation shows the same demo. Each association's cases follow PLAN, so that every route
of the legal engine (app/legal/routing.py) and every warning shows on some case. Refused in
production by the CLI.
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
from app.core import departements
from app.core.clock import today as clock_today
from app.evidence.screenshots import MESSAGES
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
# Extra consequences that no timeline event records (the others follow the EMPLOI / PRESTA events).
EXTRA_CONSEQUENCES = ["LOGEMENT", "BANQUE", "VOYAGE", "FAMILLE"]
FEMININE = {"Fatoumata", "Aïcha", "Mariam", "Nadia", "Olena", "Thi Hương", "Samira", "Aminata", "Leïla", "Hawa",
            "Svetlana", "Khadija", "Zeynep", "Ana"}
BIRTH_PLACES = {
    "malienne": "Bamako (Mali)", "sénégalaise": "Dakar (Sénégal)", "algérienne": "Oran (Algérie)",
    "marocaine": "Casablanca (Maroc)", "tunisienne": "Sfax (Tunisie)", "ivoirienne": "Abidjan (Côte d'Ivoire)",
    "ukrainienne": "Kharkiv (Ukraine)", "vietnamienne": "Hô Chi Minh-Ville (Viêt Nam)",
    "guinéenne": "Conakry (Guinée)", "arménienne": "Erevan (Arménie)", "turque": "Izmir (Turquie)",
    "camerounaise": "Douala (Cameroun)", "comorienne": "Moroni (Comores)",
}
STREETS = ["rue Garibaldi", "avenue Jean-Jaurès", "rue de la République", "boulevard Voltaire", "rue Victor-Hugo",
           "rue Pasteur", "allée des Tilleuls", "rue du Moulin", "avenue de la Libération", "rue des Écoles"]
JOB_LOSSES = [
    "L'employeur suspend le contrat de travail faute de document autorisant à travailler.",
    "Licenciement notifié : le titre a expiré et aucune attestation ne permet de continuer à travailler.",
    "Promesse d'embauche retirée faute d'autorisation de travail.",
]
BENEFIT_LOSSES = [
    ("CAF", "La CAF suspend l'aide au logement et le RSA faute de titre de séjour valide."),
    ("FT", "France Travail suspend l'inscription et l'allocation : le document présenté n'autorise pas à travailler."),
    ("CPAM", "La CPAM interrompt la complémentaire santé solidaire faute de titre de séjour valide."),
]

# Each association's cases, in order: (what happens, primary blocking code). Every route of the
# legal engine and every warning appears: MESURES-UTILES (blocked before any deposit, deposited and
# waiting, titre granted but not handed over), SUSPENSION (implicit rejection, refusal, OQTF),
# EXECUTION, NOUVELLES-CIRCONSTANCES and AUCUNE (resolved, closed, procedure pending, rejected).
PLAN = [
    ("bloque", "ACC-AUTH"), ("silence", "INSTR-SILENCE"), ("injonction", "DEP-STATUT"),
    ("refus-oqtf", "DEP-MODIF"), ("resolu", "RDV"), ("bloque-semaine", "DEP-ERREUR"),
    ("renouv-tardif", "DEP-TITRE"), ("rejet-nouveau", "DEP-SIMULT"), ("depose-attente", "API-ABS"),
    ("execute", "ACCOMP"), ("clos", "CLOS"), ("refus", "API-MENTION"), ("bloque", "DEP-CATEG"),
    ("carte", "CARTE"), ("silence", "API-RENOUV"), ("injonction", "SUBST"), ("refere-suspension", "INSTR-SILENCE"),
    ("bloque", "NUM"), ("rejet", "DEP-ERREUR"), ("refere-en-cours", "ACC-AUTH"), ("execute", "DEP-STATUT"),
    ("refus-oqtf", "INSTR-SILENCE"), ("bloque-semaine", "CHG-SITU"), ("renouv-tardif", "DEP-ERREUR"),
    ("depose-attente", "RDV"), ("silence", "API-ABS"), ("resolu", "DEP-SIMULT"), ("rejet-nouveau", "ACC-AUTH"),
    ("bloque", "SUBST"), ("injonction", "DEP-CATEG"), ("refus", "DEP-MODIF"), ("execute", "DEP-TITRE"),
    ("clos", "NUM"), ("bloque", "ACCOMP"),
]
# Blocking codes that may come second, by kind of situation (never CARTE: it changes the route).
BEFORE_DEPOSIT = ["ACC-AUTH", "DEP-TITRE", "DEP-STATUT", "DEP-CATEG", "DEP-ERREUR", "DEP-SIMULT", "ACCOMP", "SUBST",
                  "NUM", "RDV"]
AFTER_DEPOSIT = ["INSTR-SILENCE", "API-ABS", "API-RENOUV", "API-MENTION", "DEP-MODIF", "RDV", "ACCOMP"]
DEPOSITED = {"silence", "refus", "refus-oqtf", "refere-suspension", "depose-attente", "carte"}
# Codes that only arise once a request is deposited: attempts before the deposit show a deposit error.
AFTER_DEPOSIT_ONLY = {"INSTR-SILENCE", "API-ABS", "API-RENOUV", "API-MENTION", "CLOS", "CARTE"}
# The démarche a blocking code implies; otherwise one of the titre requests.
DEMARCHE_OF_CODE = {"DEP-TITRE": "RENOUV", "API-RENOUV": "RENOUV", "DEP-STATUT": "PREMIERE", "DEP-CATEG": "CHGT-STATUT",
                    "CHG-SITU": "CHGT-SITU"}
TITRE_REQUESTS = ["RENOUV", "RENOUV", "RENOUV", "PREMIERE", "CHGT-STATUT"]
OTHER_DEMARCHES = ["DUPLICATA", "TIV", "DCEM"]
FUTURE_ALLOWED = {"CONVOC", "AUDIENCE"}
NARRATIVE_NOTES = {
    "bloque": "Aucune demande n'a pu être déposée.",
    "bloque-semaine": "Premier passage à la permanence cette semaine.",
    "renouv-tardif": "La personne est venue tard, peu avant l'expiration de son titre.",
    "depose-attente": "La demande est enfin déposée, mais sans attestation.",
    "silence": "La demande déposée reste sans réponse.",
    "refus": "La préfecture a refusé le titre.",
    "refus-oqtf": "Le refus est suivi d'une obligation de quitter le territoire : dossier transmis en urgence "
                  "pour un recours.",
    "refere-suspension": "Refus contesté devant le tribunal administratif.",
    "injonction": "Le juge des référés a enjoint au préfet d'agir ; rien ne bouge depuis.",
    "execute": "L'ordonnance a été exécutée.",
    "rejet": "Le référé a été rejeté.",
    "rejet-nouveau": "Le référé a été rejeté ; la situation s'est aggravée depuis.",
    "refere-en-cours": "Référé en cours devant le tribunal administratif.",
    "resolu": "Le titre a été délivré.",
    "carte": "Le titre est accordé mais jamais remis.",
    "clos": "Dossier clos sans suite.",
}


def _ticket(rng: random.Random) -> str:
    return f"{{year}}-CCC-{rng.randint(100000, 999999)}"


def _lrar(rng: random.Random) -> str:
    return f"1A {rng.randint(100, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)} {rng.randint(1, 9)}"


class _Story:
    """A timeline written in days from the first contact (day 0); placed in time afterwards.

    `now` is today's day number: the case was opened `now` days ago. Only CONVOC and AUDIENCE
    may come after it.
    """

    def __init__(self, rng: random.Random, code: str, tribunal: str):
        self.rng, self.code, self.tribunal = rng, code, tribunal
        self.day = 0
        self.now = 0
        self.events: list[tuple[int, str, str, str, str]] = []  # (day, type, text, reference, outcome)
        self.consequences: list[str] = []
        self.status = "EN-COURS"

    def then(self, lo: int, hi: int, type_: str, text: str, ref: str = "", outcome: str = "") -> int:
        self.day += self.rng.randint(lo, hi)
        self.events.append((self.day, type_, text, ref, outcome))
        return self.day

    def wait(self, lo: int, hi: int) -> None:
        """Today is lo…hi days after the last event."""
        self.now = self.day + self.rng.randint(lo, hi)

    def days(self, type_: str) -> list[int]:
        return [e[0] for e in self.events if e[1] == type_]

    # --- the usual steps ----------------------------------------------------------------------

    def attempts(self, count: int, same_week: bool = False) -> None:
        """Failed attempts with the error each time: on different weeks, or all within one week."""
        code = "DEP-ERREUR" if self.code in AFTER_DEPOSIT_ONLY or self.code not in MESSAGES else self.code
        error = f"Message affiché par l'ANEF : « {MESSAGES[code][1]} »"  # as on the demo screenshots
        self.then(0, 0, "TENTATIVE", "Première tentative de dépôt sur l'ANEF, avec la personne, à la permanence.")
        self.then(0, 0, "ERREUR", error)
        for _ in range(count - 1):
            if same_week:
                self.then(1, 2, "TENTATIVE", "Nouvelle tentative le lendemain, même blocage.")
            else:
                self.then(7, 16, "TENTATIVE", "Nouvelle tentative, une autre semaine : même blocage.")
            if self.rng.random() < 0.6:
                self.then(0, 0, "ERREUR", error)

    def helpdesks(self) -> None:
        self.then(2, 9, "CCC", "Formulaire de contact du CCC rempli ; réponse automatique sans solution.",
                  _ticket(self.rng))
        if self.rng.random() < 0.6:
            self.then(5, 15, "PAN", "Passage au point d'accueil numérique de la préfecture : on nous renvoie "
                                    "vers le CCC.")

    def prior_request(self) -> None:
        """The written request to the préfet that a référé mesures utiles needs first."""
        if self.rng.random() < 0.5:
            self.then(5, 15, "PREF", "Courrier recommandé au préfet exposant le blocage et demandant "
                                     "l'enregistrement de la demande, captures d'écran jointes.", _lrar(self.rng))
            if self.rng.random() < 0.5:
                self.then(10, 25, "SUBST", "Demande écrite de la solution de substitution (dépôt papier, arrêté du "
                                           "1er août 2023) : sans réponse.")
        else:
            self.then(5, 15, "SUBST", "Demande écrite de la solution de substitution (dépôt papier, arrêté du "
                                      "1er août 2023), par lettre recommandée.", _lrar(self.rng))

    def harm(self, lo: int = 5, hi: int = 20) -> None:
        if self.rng.random() < 0.5:
            self.then(lo, hi, "EMPLOI", self.rng.choice(JOB_LOSSES))
            self.consequences.append("EMPLOI")
        else:
            code, text = self.rng.choice(BENEFIT_LOSSES)
            self.then(lo, hi, "PRESTA", text)
            self.consequences.append(code)

    def blocked(self, harm_chance: float = 0.5) -> None:
        """Blocked before any deposit: attempts on different weeks, help desks, written request."""
        self.attempts(self.rng.randint(2, 4))
        self.helpdesks()
        self.prior_request()
        if self.rng.random() < harm_chance:
            self.harm()
        if self.rng.random() < 0.25:
            self.then(3, 12, "DDD", "Saisine du Défenseur des droits en ligne.")

    def deposit(self, with_attempts: bool = True) -> int:
        if with_attempts:
            self.attempts(2)
            self.then(5, 20, "DEPOT", "Le dépôt finit par passer : attestation de dépôt téléchargée.")
        else:
            self.then(0, 0, "DEPOT", "Demande déposée sur l'ANEF avec la personne : attestation de dépôt "
                                     "téléchargée.")
        return self.day

    def refere(self, kind: str) -> int:
        self.then(3, 10, "AJ", "Demande d'aide juridictionnelle déposée.")
        text = ("Référé mesures utiles déposé au tribunal administratif" if kind == "L521-3" else
                "Recours en annulation et référé-suspension déposés au tribunal administratif")
        number = "{yy}0" + f"{self.rng.randint(1000, 9999)}"  # requête n°: year, then five digits
        return self.then(3, 12, "REFERE", f"{text} de {self.tribunal}.", number, kind)

    def hearing(self) -> int:
        return self.then(7, 15, "AUDIENCE", f"Audience devant le juge des référés du tribunal administratif de "
                                            f"{self.tribunal}.", "{requete}")

    def order(self, outcome: str) -> int:
        if outcome == "INJONCTION":
            text = ("Ordonnance : injonction au préfet d'enregistrer la demande et de délivrer une attestation de "
                    "prolongation d'instruction sous 15 jours, astreinte de 100 € par jour de retard.")
        else:
            text = "Ordonnance de rejet : le juge estime l'urgence non caractérisée."
        return self.then(1, 5, "ORDONNANCE", text, "{requete}", outcome)


def _story(rng: random.Random, kind: str, code: str, tribunal: str) -> _Story:
    """The timeline of one kind of case (see PLAN), in days from the first contact."""
    s = _Story(rng, code, tribunal)
    if kind in ("bloque", "renouv-tardif"):
        s.blocked()
        s.wait(3, 40)
    elif kind == "bloque-semaine":
        s.attempts(rng.randint(2, 3), same_week=True)
        s.then(0, 2, "CCC", "Appel au CCC : on nous conseille de réessayer plus tard.", _ticket(rng))
        s.then(1, 3, "PREF", "Courriel à la préfecture exposant le blocage, captures d'écran jointes.")
        s.wait(1, 6)
        s.status = "OUVERT"
    elif kind == "depose-attente":
        filed = s.deposit()
        s.then(10, 25, "CCC", "Le CCC confirme le dépôt mais ne peut pas délivrer l'attestation de prolongation "
                              "d'instruction.", _ticket(rng))
        s.then(5, 20, "PREF", "Courrier recommandé au préfet demandant l'attestation de prolongation d'instruction.",
               _lrar(rng))
        if rng.random() < 0.6:
            s.harm(3, 10)
        s.now = filed + rng.randint(max(s.day - filed + 3, 45), 100)  # before the implicit rejection
    elif kind == "silence":
        filed = s.deposit()
        if rng.random() < 0.5:
            s.then(3, 20, "API", "Attestation de prolongation d'instruction délivrée (valable trois mois).")
        s.then(25, 45, "CCC", "Relance auprès du CCC : « dossier en cours d'instruction ».", _ticket(rng))
        s.then(20, 40, "PREF", "Courrier recommandé de relance au préfet, resté sans réponse.", _lrar(rng))
        if rng.random() < 0.5:
            s.harm()
        if rng.random() < 0.4:
            s.then(5, 20, "DDD", "Saisine du Défenseur des droits : délai d'instruction anormal.")
        s.now = max(s.day + rng.randint(3, 30), filed + rng.randint(135, 330))
    elif kind in ("refus", "refus-oqtf", "refere-suspension"):
        s.deposit(with_attempts=rng.random() < 0.5)
        if rng.random() < 0.6:
            s.then(3, 20, "API", "Attestation de prolongation d'instruction délivrée (valable trois mois).")
        s.then(15, 40, "PREF", "Courriel de relance à la préfecture.")
        s.then(20, 90, "REFUS", "Décision de refus de titre de séjour notifiée par courrier recommandé.")
        if kind == "refus-oqtf":
            s.then(2, 6, "OQTF", "Obligation de quitter le territoire français notifiée, délai de départ volontaire "
                                 "de trente jours.")
            s.wait(1, 6)
        elif kind == "refere-suspension":
            filed = s.refere("L521-1")
            heard = s.hearing()
            s.now = filed + rng.randint(1, heard - filed - 1)  # the hearing is still to come
        else:
            if rng.random() < 0.6:
                s.harm(3, 15)
            s.wait(2, 25)
    elif kind in ("injonction", "execute", "rejet", "rejet-nouveau", "refere-en-cours"):
        s.blocked(harm_chance=0.7 if kind != "rejet-nouveau" else 0.3)
        filed = s.refere("L521-3")
        heard = s.hearing()
        if kind == "refere-en-cours":
            s.now = filed + rng.randint(1, heard - filed - 1)
        elif kind == "injonction":
            s.order("INJONCTION")
            s.then(20, 30, "PREF", "Courrier au préfet : le délai fixé par l'ordonnance est expiré et rien n'a été "
                                   "fait.", _lrar(rng))
            s.wait(10, 60)
        elif kind == "execute":
            s.order("INJONCTION")
            s.then(8, 25, "EXECUTION", "La préfecture enregistre la demande en exécution de l'ordonnance.")
            s.then(0, 5, "API", "Attestation de prolongation d'instruction délivrée, avec autorisation de travail.")
            if rng.random() < 0.6:
                s.then(45, 120, "TITRE-OK", "Décision favorable : titre de séjour délivré.")
            s.wait(10, 240)
            s.status = "RESOLU"
        elif kind == "rejet":
            s.order("REJET")
            s.wait(5, 30)
        else:
            s.order("REJET")
            if rng.random() < 0.5:
                s.then(10, 20, "TENTATIVE", "Nouvelle tentative de dépôt après l'ordonnance : même blocage.")
            s.harm(10, 30)
            s.wait(3, 25)
    elif kind == "resolu":
        if rng.random() < 0.5:
            s.attempts(2)
            s.then(3, 10, "CCC", "Contact avec le CCC : signalement transmis.", _ticket(rng))
            s.then(10, 20, "SUBST", "Demande écrite de la solution de substitution.", _lrar(rng))
            s.then(15, 40, "CONVOC", "Convocation en préfecture pour le dépôt papier de la demande.")
            s.then(0, 0, "DEPOT", "Dépôt papier enregistré en préfecture (solution de substitution).")
        else:
            s.deposit()
            s.then(30, 60, "PREF", "Relance écrite adressée à la préfecture.", _lrar(rng))
        s.then(1, 10, "API", "Attestation de prolongation d'instruction délivrée.")
        s.then(40, 110, "TITRE-OK", "Décision favorable : titre de séjour délivré.")
        s.wait(30, 330)
        s.status = "RESOLU"
    elif kind == "carte":
        s.deposit(with_attempts=False)
        s.then(3, 15, "API", "Attestation de prolongation d'instruction délivrée.")
        s.then(40, 90, "TITRE-OK", "Attestation de décision favorable délivrée : le titre est accordé.")
        s.then(10, 20, "TENTATIVE", "Tentative de prise de rendez-vous pour la remise du titre : aucun créneau.")
        s.then(7, 14, "TENTATIVE", "Nouvelle tentative de rendez-vous de remise, une autre semaine : aucun créneau.")
        s.then(2, 8, "CCC", "Le CCC ne peut pas proposer de rendez-vous de remise.", _ticket(rng))
        s.then(5, 15, "PREF", "Courrier recommandé au préfet demandant un rendez-vous pour la remise du titre.",
               _lrar(rng))
        s.wait(5, 40)
    elif kind == "clos":
        if code == "CLOS":
            s.deposit()
            s.then(30, 80, "REPONSE", "Demande classée sans suite sur l'ANEF après une demande de pièces jamais "
                                      "reçue dans l'espace personnel.")
            s.then(5, 15, "PREF", "Courrier au préfet demandant la réouverture de la demande.", _lrar(rng))
        else:
            s.attempts(2)
            s.helpdesks()
        s.then(20, 60, "AUTRE", "Sans nouvelles de la personne après trois relances : dossier clos.")
        s.wait(90, 420)
        s.status = "CLOS"
    else:  # pragma: no cover - PLAN names only the kinds above
        raise ValueError(kind)
    return s


def _demarche(rng: random.Random, kind: str, code: str) -> str:
    if kind == "renouv-tardif":
        return "RENOUV"
    if code in DEMARCHE_OF_CODE:
        return DEMARCHE_OF_CODE[code]
    if kind in ("bloque", "bloque-semaine", "clos") and rng.random() < 0.3:
        return rng.choice(OTHER_DEMARCHES)
    return rng.choice(TITRE_REQUESTS)


def _expiry_day(rng: random.Random, kind: str, demarche: str) -> int | None:
    """The current titre's expiry, in days from the first contact (R. 431-5 window: 120th–60th day)."""
    if kind == "renouv-tardif":
        return rng.randint(-40, 45)  # first step after the 60th day before expiry, or even after it
    if demarche == "RENOUV":
        return rng.randint(62, 118)  # first step within the renewal window
    if demarche == "CHGT-STATUT":
        return rng.randint(20, 150)
    return None


def _place(story: _Story, start: date, today: date) -> list[EventInput]:
    """The story's events as dated EventInputs (references get their year and the requête number)."""
    events, requete = [], ""
    for day, type_, text, ref, outcome in sorted(story.events, key=lambda e: e[0]):
        when = start + timedelta(days=day)
        if when > today and type_ not in FUTURE_ALLOWED:
            continue
        ref = ref.replace("{year}", str(when.year)).replace("{yy}", f"{when.year % 100:02d}")
        if type_ == "REFERE":
            requete = ref
        ref = ref.replace("{requete}", requete)
        events.append(EventInput(when, type_, text, ref, outcome=outcome))
    return events


def _case_and_timeline(rng: random.Random, kind: str, code: str, prefectures: list[str],
                       today: date) -> tuple[CaseInput, list[EventInput]]:
    prefecture = rng.choice(prefectures)
    dep = departements.get(prefecture)
    story = _story(rng, kind, code, dep.tribunal_administratif if dep else "Lyon")
    demarche = _demarche(rng, kind, code)
    expiry_day = _expiry_day(rng, kind, demarche)
    start = today - timedelta(days=story.now)
    titre_actuel = rng.choice(TITRES) if demarche in ("RENOUV", "DUPLICATA") else (
        "étudiant" if demarche == "CHGT-STATUT" else "")
    # The titre's expiry is a fact of the timeline, unless it comes after the titre was renewed or
    # after the case was closed.
    if expiry_day is not None and expiry_day <= story.now and demarche in ("RENOUV", "CHGT-STATUT"):
        granted = story.days("TITRE-OK")
        last = max(e[0] for e in story.events)
        if (not granted or expiry_day < granted[0]) and (story.status != "CLOS" or expiry_day < last):
            story.events.append((expiry_day, "TITRE-EXP", f"Le titre de séjour « {titre_actuel} » expire.", "", ""))
    events = _place(story, start, today)

    pool = AFTER_DEPOSIT if kind in DEPOSITED else BEFORE_DEPOSIT
    others = [c for c in rng.sample(pool, 2) if c != code][: rng.randint(0, 2)]
    consequences = list(dict.fromkeys(story.consequences))
    if rng.random() < 0.35:
        consequences.append(rng.choice(EXTRA_CONSEQUENCES))
    if titre_actuel == "étudiant" and rng.random() < 0.5:
        consequences.append("ETUDES")
    first, last = rng.choice(FIRST), rng.choice(LAST)
    nationality = rng.choice(NATIONALITIES)
    birth = date(rng.randint(1965, 2004), rng.randint(1, 12), rng.randint(1, 28))
    address = (f"{rng.randint(1, 120)} {rng.choice(STREETS)}, {prefecture}000 {dep.prefecture}"
               if dep and len(prefecture) == 2 and prefecture.isdigit() and rng.random() < 0.8 else "")
    titre_demande = {"RENOUV": titre_actuel, "CHGT-STATUT": "salarié"}.get(demarche) or rng.choice(TITRES)
    note = NARRATIVE_NOTES[kind]
    data = CaseInput(
        prefecture=prefecture, demarche=demarche, status=story.status, blocages=[code] + others,
        consequences=consequences, titre_actuel=titre_actuel, titre_demande=titre_demande,
        titre_expiry=start + timedelta(days=expiry_day) if expiry_day is not None else None,
        anef_number=f"ANEF-{prefectures[0]}-{start.year}-{rng.randint(1, 999999):06d}",
        first_attempt=start,
        narrative=f"{SCENARIOS[code]} {note} Situation suivie depuis le {start.strftime('%d/%m/%Y')}.",
        civility="Mme" if first in FEMININE else "M.", last_name=last, first_name=first, birth_date=birth,
        birth_place=BIRTH_PLACES.get(nationality, ""), nationality=nationality,
        numero_etranger=str(rng.randint(10**9, 10**10 - 1)),
        phone=f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
        email=f"{first.split()[0].lower()}.{rng.randint(1, 999)}@example.org".encode("ascii", "ignore").decode(),
        address=address,
        language=rng.choice(["français", "arabe", "anglais", "ukrainien", "vietnamien", "bambara", "soninké"]),
        consent_date=start, consent_collected_by="Permanence du mardi",
        consent_followup=True, consent_litigation=rng.random() < 0.6 or any(e.type == "REFERE" for e in events),
        consent_statistics=rng.random() < 0.8,
    )
    return data, events


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
    rng = random.Random(org.slug)  # noqa: S311 - deterministic demo data
    taxonomy = Taxonomy(org.id)
    for i in range(count):
        kind, code = PLAN[i % len(PLAN)]
        data, events = _case_and_timeline(rng, kind, code, prefectures, today)
        data.volunteer_id = users["volunteer"].id
        # A lawyer follows the cases before the judge, and those with a decision to attack.
        if any(e.type in ("REFERE", "REFUS", "OQTF") for e in events):
            data.lawyer_id = users["lawyer"].id
        if i % 11 == 5:  # some cases are opened before the person's identity is known
            for name in ("civility", "last_name", "first_name", "birth_place", "numero_etranger", "phone", "email",
                         "address"):
                setattr(data, name, "")
            data.birth_date = None
        case = cases.create_case(org, data, users["volunteer"], today=today, taxonomy=taxonomy,
                                 opened_on=data.first_attempt)
        for event in events:
            cases.add_event(case, event, users["volunteer"], today=today)
    from app.core import hooks

    hooks.run("demo_seeded", org=org, users=users, today=today)
