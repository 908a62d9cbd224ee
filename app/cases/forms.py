"""Case and event forms (French labels and messages)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, SelectField, SelectMultipleField,
                     StringField, TextAreaField, widgets)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.cases.services import CIVILITIES, NUMERO_ETRANGER
from app.core import departements
from app.legal.codes import ORDONNANCE_OUTCOMES, REFERE_KINDS

DATE_MSG = "Date invalide : utilisez le sélecteur ou le format AAAA-MM-JJ."


class FrenchDateField(DateField):
    """A date input whose parse error is in French."""

    def process_formdata(self, valuelist):
        if valuelist and not "".join(valuelist).strip():
            # Empty is not malformed: DataRequired (or Optional) says what to do.
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(DATE_MSG) from None


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        if self.data:
            valid = {value for value, _ in self.choices}
            unknown = [d for d in self.data if d not in valid]
            if unknown:
                raise ValidationError("Choix inconnu.")


def _short(label, max_len=200, required=False):
    validators = [DataRequired("Ce champ est obligatoire.")] if required else [Optional()]
    return StringField(label, validators=validators + [
        Length(max=max_len, message=f"{max_len} caractères au maximum.")])


# People copy numbers as they are printed: « 12 34 56 78 90 », « 12.34.56.78.90 ».
SEPARATORS = re.compile(r"[\s.\-/]+")


def strip_separators(value):
    return SEPARATORS.sub("", value) if isinstance(value, str) else value


def normalise_phone(value):
    """« 0612345678 », « 06.12.34.56.78 » → « 06 12 34 56 78 »; other numbers keep their digits
    and « + », with single spaces."""
    if not isinstance(value, str):
        return value
    compact = SEPARATORS.sub("", value)
    if re.fullmatch(r"0\d{9}", compact):
        return " ".join(compact[i:i + 2] for i in range(0, 10, 2))
    return " ".join(value.split())


def numero_etranger_check(form, field):
    value = field.data or ""
    if not value:
        return
    if not value.isdigit():
        raise ValidationError("Le numéro étranger ne contient que des chiffres (les espaces sont acceptés).")
    if not NUMERO_ETRANGER.match(value):
        raise ValidationError(f"Le numéro étranger compte 10 chiffres (9 pour certains anciens numéros) : "
                              f"{len(value)} saisi{'s' if len(value) > 1 else ''}.")




class CaseForm(FlaskForm):
    version = HiddenField()
    # person
    # Checked by the service (validate_input), like the import.
    civility = SelectField("Civilité (facultatif)", validate_choice=False,
                           choices=[SelectChoice(c, c or "—") for c in CIVILITIES])
    last_name = _short("Nom")
    first_name = _short("Prénom")
    birth_date = FrenchDateField("Date de naissance", validators=[Optional()])
    birth_place = _short("Lieu de naissance")
    nationality = _short("Nationalité", 100)
    numero_etranger = StringField("Numéro étranger (AGDREF)", filters=[strip_separators],
                                  validators=[Optional(), numero_etranger_check])
    # Free text stays allowed (« 06 12 34 56 78, le soir »); a bare French number is reformatted when
    # saved (normalise_phone in the view), while a refused form shows it as typed.
    phone = _short("Téléphone", 40)
    email = _short("Courriel", 254)
    address = TextAreaField("Adresse", validators=[Optional(), Length(max=1000, message="1000 caractères au maximum.")])
    language = _short("Langue préférée", 60)
    consent_date = FrenchDateField("Date du consentement", validators=[Optional()])
    consent_collected_by = _short("Consentement recueilli par")
    consent_followup = BooleanField("Suivi du dossier")
    consent_litigation = BooleanField("Recours contentieux")
    consent_statistics = BooleanField("Statistiques anonymisées")
    # case
    prefecture = SelectField("Préfecture (département)", validators=[DataRequired("Choisissez la préfecture.")])
    demarche = SelectField("Démarche", validators=[DataRequired("Choisissez la démarche.")])
    titre_demande = _short("Titre demandé")
    titre_actuel = _short("Titre actuel (catégorie)")
    titre_expiry = FrenchDateField("Expiration du titre actuel", validators=[Optional()])
    anef_number = _short("Numéro de demande ANEF", 64)
    status = SelectField("Statut", validators=[DataRequired("Choisissez le statut.")])
    first_attempt = FrenchDateField("Première tentative", validators=[Optional()])
    primary_blocage = SelectField("Blocage principal", validators=[DataRequired("Indiquez le blocage principal.")])
    other_blocages = CheckboxesField("Autres blocages")
    consequences = CheckboxesField("Conséquences")
    narrative = TextAreaField("Récit", validators=[Optional(), Length(max=32_000, message="32 000 caractères au maximum.")])
    volunteer_id = SelectField("Bénévole référent·e", coerce=str, validators=[Optional()])
    lawyer_id = SelectField("Avocat·e", coerce=str, validators=[Optional()])

    def fill_choices(self, taxonomy, members, current_lawyer_id=None):
        blank = [("", "— Choisir —")]
        self.prefecture.choices = blank + departements.choices()
        self.demarche.choices = blank + taxonomy.choices("demarche")
        self.status.choices = taxonomy.choices("statut")
        self.primary_blocage.choices = blank + taxonomy.choices("blocage")
        self.other_blocages.choices = taxonomy.choices("blocage")
        self.consequences.choices = taxonomy.choices("consequence")
        people = [(str(u.id), u.display_name) for u in members]
        self.volunteer_id.choices = [("", "— Personne —")] + people
        # Only lawyers (and whoever is assigned already, so an edit does not drop them).
        lawyers = [(str(u.id), u.display_name) for u in members
                   if u.role == "lawyer" or u.id == current_lawyer_id]
        self.lawyer_id.choices = [("", "— Personne —")] + lawyers


class EventForm(FlaskForm):
    date = FrenchDateField("Date", validators=[DataRequired("Indiquez la date de l'événement.")])
    type = SelectField("Type d'événement", validators=[DataRequired("Choisissez le type.")])
    description = TextAreaField("Ce qui s'est passé", validators=[
        Optional(), Length(max=10_000, message="10 000 caractères au maximum.")])
    reference = StringField("Référence (ticket CCC, n° LRAR, n° de requête…)", validators=[
        Optional(), Length(max=120, message="120 caractères au maximum.")])
    # Checked against the type by the service (outcome_error), so the French reason is its own.
    outcome = SelectField("Issue de l'ordonnance ou type de référé", validate_choice=False, choices=[
        SelectChoice("", "— Sans objet —"),
        *(SelectChoice(code, label, optgroup="Issue de l'ordonnance") for code, label in ORDONNANCE_OUTCOMES.items()),
        *(SelectChoice(code, label, optgroup="Type de référé") for code, label in REFERE_KINDS.items()),
    ])
