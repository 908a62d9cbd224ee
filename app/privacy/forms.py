"""Forms of the privacy pages: consent withdrawal, legal hold, erasure, retention period."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from app.cases.forms import FrenchDateField
from app.privacy.services import RETENTION_MAX_DAYS, RETENTION_MIN_DAYS


class WithdrawalForm(FlaskForm):
    withdrawn_on = FrenchDateField("Date du retrait", validators=[InputRequired("Indiquez la date du retrait.")])


class LegalHoldForm(FlaskForm):
    hold = HiddenField()  # "1" to put the case under hold, "0" to lift it


class ErasureForm(FlaskForm):
    confirm = StringField("Pour confirmer, saisissez la référence du dossier",
                          validators=[DataRequired("Saisissez la référence du dossier pour confirmer.")])


class FrenchIntegerField(IntegerField):
    """An integer input whose parse error is in French."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Indiquez un nombre entier de jours.") from None


class RetentionForm(FlaskForm):
    retention_days = FrenchIntegerField(
        "Durée de conservation après la dernière activité (jours)",
        validators=[InputRequired("Indiquez une durée en jours."),
                    NumberRange(RETENTION_MIN_DAYS, RETENTION_MAX_DAYS,
                                f"La durée doit être comprise entre {RETENTION_MIN_DAYS} et {RETENTION_MAX_DAYS} jours.")])
