"""Login form."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[
        DataRequired("Indiquez votre adresse électronique."), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[
        DataRequired("Indiquez votre mot de passe."), Length(max=256, message="Mot de passe trop long.")])
