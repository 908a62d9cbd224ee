"""The digest setting of « Mon compte »."""

from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from app.deadlines.services import DIGESTS


class DigestForm(FlaskForm):
    digest = RadioField("Récapitulatif des échéances par courriel",
                        choices=[SelectChoice(value, label) for value, label in DIGESTS.items()],
                        validators=[InputRequired("Choisissez une fréquence.")])
