"""The « courrier envoyé » form: a letter sent becomes a dated timeline event."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.cases.forms import DATE_MSG, FrenchDateField

LETTER_CHOICES = [SelectChoice("prefet", "Demande préalable au préfet (solution de substitution)"),
                  SelectChoice("motifs", "Demande des motifs du rejet implicite"),
                  SelectChoice("defenseur", "Saisine du Défenseur des droits")]


class LetterSentForm(FlaskForm):
    kind = SelectField("Courrier", choices=LETTER_CHOICES, validators=[DataRequired("Choisissez le courrier.")])
    sent_on = FrenchDateField("Date d'envoi", validators=[DataRequired(DATE_MSG)])
    lrar = StringField("N° de la lettre recommandée", validators=[
        Optional(), Length(max=40, message="40 caractères au plus.")])
