"""Login, second factor, own account and account management forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from app.auth.models import ROLE_LABELS, Role
from app.auth.services import MAX_PASSWORD

TOO_LONG = "Mot de passe trop long."


class LoginForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[
        DataRequired("Indiquez votre adresse électronique."), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[
        DataRequired("Indiquez votre mot de passe."), Length(max=MAX_PASSWORD, message=TOO_LONG)])


class SecondFactorForm(FlaskForm):
    code = StringField("Code de vérification", validators=[
        DataRequired("Saisissez le code affiché par votre application."), Length(max=64)])


class ActionForm(FlaskForm):
    """A button that only needs its CSRF token."""


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Mot de passe actuel", validators=[
        DataRequired("Indiquez votre mot de passe actuel."), Length(max=MAX_PASSWORD, message=TOO_LONG)])
    new_password = PasswordField("Nouveau mot de passe", validators=[
        DataRequired("Indiquez le nouveau mot de passe."), Length(max=MAX_PASSWORD, message=TOO_LONG)])
    confirm = PasswordField("Confirmation du nouveau mot de passe", validators=[
        DataRequired("Confirmez le nouveau mot de passe."),
        EqualTo("new_password", "Les deux saisies ne correspondent pas.")])


class ProfileForm(FlaskForm):
    full_name = StringField("Nom affiché", validators=[
        Optional(), Length(max=200, message="200 caractères au maximum.")])


class DisableTotpForm(FlaskForm):
    password = PasswordField("Mot de passe actuel", validators=[
        DataRequired("Indiquez votre mot de passe."), Length(max=MAX_PASSWORD, message=TOO_LONG)])


class MemberForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[
        DataRequired("Indiquez l'adresse électronique."), Length(max=254)])
    full_name = StringField("Nom affiché", validators=[
        Optional(), Length(max=200, message="200 caractères au maximum.")])
    role = SelectField("Rôle", choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role],
                       validate_choice=False,  # create_user refuses unknown roles, in French
                       validators=[DataRequired("Choisissez le rôle.")])
    password = PasswordField("Mot de passe initial", validators=[
        DataRequired("Indiquez un mot de passe initial."), Length(max=MAX_PASSWORD, message=TOO_LONG)])


class RequireTotpForm(FlaskForm):
    required = BooleanField("Exiger la double authentification pour tous les membres")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Adresse électronique", validators=[
        DataRequired("Indiquez votre adresse électronique."), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("Nouveau mot de passe", validators=[
        DataRequired("Indiquez le nouveau mot de passe."), Length(max=MAX_PASSWORD, message=TOO_LONG)])
    confirm = PasswordField("Confirmation du nouveau mot de passe", validators=[
        DataRequired("Confirmez le nouveau mot de passe."),
        EqualTo("new_password", "Les deux saisies ne correspondent pas.")])
