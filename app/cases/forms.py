"""Case and event forms (French labels and messages)."""

from __future__ import annotations

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


def numero_etranger_check(form, field):
    if field.data and not NUMERO_ETRANGER.match(field.data.strip()):
        raise ValidationError("Le numéro étranger compte 10 chiffres (9 pour certains anciens numéros).")


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
    numero_etranger = StringField("Numéro étranger (AGDREF)", validators=[Optional(), numero_etranger_check])
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

    def fill_choices(self, taxonomy, members):
        blank = [("", "— Choisir —")]
        self.prefecture.choices = blank + departements.choices()
        self.demarche.choices = blank + taxonomy.choices("demarche")
        self.status.choices = taxonomy.choices("statut")
        self.primary_blocage.choices = blank + taxonomy.choices("blocage")
        self.other_blocages.choices = taxonomy.choices("blocage")
        self.consequences.choices = taxonomy.choices("consequence")
        people = [(str(u.id), u.display_name) for u in members]
        self.volunteer_id.choices = [("", "— Personne —")] + people
        self.lawyer_id.choices = [("", "— Personne —")] + people


class EventForm(FlaskForm):
    date = FrenchDateField("Date", validators=[DataRequired(DATE_MSG)])
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
