"""Command line: `flask --app wsgi …` (see the README and shared/contract.md)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth import services as accounts
from app.auth.models import Organisation, User
from app.extensions import db

orgs_cli = AppGroup("orgs", help="Associations.")
users_cli = AppGroup("users", help="Comptes.")
cases_cli = AppGroup("cases", help="Dossiers.")
demo_cli = AppGroup("demo", help="Données de démonstration.")
audit_cli = AppGroup("audit", help="Journal d'audit.")
taxonomy_cli = AppGroup("taxonomy", help="Codes (blocages, démarches, …).")


def fail(message: str, code: int = 1):
    click.echo(f"Erreur : {message}", err=True)
    sys.exit(code)


def org_or_fail(slug: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug.strip().lower()))
    if org is None:
        fail(f"association « {slug} » introuvable.")
    return org


def case_by_reference(reference: str, org_slug: str | None):
    """(case, organisation) for a reference; references are unique per association only,
    so an ambiguous one is refused and the user names the association with --org."""
    from app.cases.models import Case

    query = select(Case, Organisation).join(Organisation, Organisation.id == Case.org_id).where(
        Case.reference == reference.strip())
    if org_slug:
        query = query.where(Organisation.id == org_or_fail(org_slug).id)
    found = db.session.execute(query).all()
    if not found:
        fail(f"aucun dossier « {reference} » : référence introuvable"
             + (f" dans l'association « {org_slug} »." if org_slug else "."))
    if len(found) > 1:
        slugs = ", ".join(sorted(org.slug for _, org in found))
        fail(f"la référence « {reference} » existe dans plusieurs associations ({slugs}) : précisez --org.")
    return found[0][0], found[0][1]


@orgs_cli.command("create")
@click.argument("slug")
@click.argument("name")
@click.option("--prefix", help="Préfixe des références (par défaut tiré de l'identifiant).")
def orgs_create(slug, name, prefix):
    """Crée une association SLUG nommée NAME."""
    from app.cases.taxonomy import sync_shipped_codes

    try:
        sync_shipped_codes()
        org = accounts.create_organisation(slug, name, prefix)
    except accounts.AccountError as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    click.echo(f"Association « {org.slug} » créée (références {org.ref_prefix}-AAAA-NNNN).")


@users_cli.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Identifiant de l'association.")
@click.option("--role", required=True, type=click.Choice(["volunteer", "lawyer", "coordinator", "admin"]))
@click.option("--name", default="", help="Nom affiché.")
def users_create(email, org_slug, role, name):
    """Crée un compte ; le mot de passe est lu sur l'entrée standard (ou demandé)."""
    org = org_or_fail(org_slug)
    if sys.stdin.isatty():
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = accounts.create_user(email, org, role, password, name)
    except accounts.AccountError as exc:
        db.session.rollback()
        fail(str(exc))
    db.session.commit()
    click.echo(f"Compte {user.email} ({role}) créé dans « {org.slug} ».")


@users_cli.command("reset-2fa")
@click.argument("email")
def users_reset_2fa(email):
    """Efface la double authentification d'un compte (téléphone et codes de secours perdus)."""
    from sqlalchemy import func

    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        fail(f"aucun compte « {email} ».")
    accounts.reset_totp(user, None)
    db.session.commit()
    click.echo(f"Double authentification effacée pour {user.email} : le compte s'enrôlera à la prochaine connexion.")


@cases_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--org", "org_slug", required=True)
@click.option("--dry-run", is_flag=True, help="Vérifie sans rien enregistrer.")
def cases_import(path, org_slug, dry_run):
    """Importe des dossiers (.xlsx ou .csv) : tout ou rien."""
    from app.cases.importer import ImportRefused, import_file

    org = org_or_fail(org_slug)
    try:
        report = import_file(path, org, None, dry_run=dry_run,
                             max_bytes=current_app.config["MAX_IMPORT_BYTES"])
    except ImportRefused as exc:
        db.session.rollback()
        click.echo(f"Import refusé : {len(exc.report.problems)} problème(s), rien n'a été enregistré.", err=True)
        for problem in exc.report.problems:
            click.echo(f"- {problem}", err=True)
        sys.exit(1)
    if dry_run:
        db.session.rollback()
        click.echo(f"Vérification réussie : {report.cases} dossier(s) et {report.events} événement(s) seraient importés.")
        return
    db.session.commit()  # the search index follows through its after-commit hook
    click.echo(f"{report.cases} dossier(s) et {report.events} événement(s) importés dans « {org.slug} ».")


@cases_cli.command("refresh-urgency")
def cases_refresh_urgency():
    """Recalcule l'urgence de tous les dossiers (elle évolue avec le temps)."""
    from app.cases.services import refresh_stale_urgencies

    total = sum(refresh_stale_urgencies(org.id, commit=True) for org in db.session.scalars(select(Organisation)).all())
    db.session.commit()
    click.echo(f"{total} dossier(s) recalculé(s).")


@demo_cli.command("seed")
def demo_seed():
    """Crée (une seule fois) les associations demo-lyon et demo-paris, leurs comptes et dossiers."""
    from app.demo import seed

    if current_app.config.get("PRODUCTION"):
        fail("refus : pas de données de démonstration en production.")
    given = current_app.config.get("DEMO_PASSWORD")
    password, created = seed(given)
    db.session.commit()  # the search index follows through its after-commit hook
    # A generated password is kept (0600) in DATA_DIR so later runs can say where it is.
    password_file = current_app.config["DATA_DIR"] / "demo_password"
    if created and not given:
        password_file.touch(mode=0o600)
        password_file.write_text(password)
    click.echo("Données de démonstration " + ("créées." if created else "déjà présentes.")
               + " Comptes de démonstration :")
    for slug in ("demo-lyon", "demo-paris"):
        click.echo("  " + "  ".join(f"{role}@{slug}.test" for role in ("benevole", "avocat", "coordination", "admin")))
    if given:
        click.echo("  mot de passe : celui de DEMO_PASSWORD")
    elif created:
        click.echo(f"  mot de passe : {password}")
    elif password_file.exists():
        click.echo(f"  mot de passe : {password_file.read_text().strip()} (conservé dans {password_file})")


# `audit verify` and `audit rekey` live in app/audit/cli.py (keyed chain, exported head).


@taxonomy_cli.command("sync")
def taxonomy_sync():
    """Ajoute les codes livrés manquants (ne supprime rien)."""
    from app.cases.taxonomy import sync_shipped_codes

    added = sync_shipped_codes()
    db.session.commit()
    click.echo(f"{added} code(s) ajouté(s).")


CLI_GROUPS = (orgs_cli, users_cli, cases_cli, demo_cli, audit_cli, taxonomy_cli)


def register_cli(app) -> None:
    """Core groups here; each domain's cli.py adds its own `cli_groups`."""
    import importlib

    from app import DOMAINS

    groups = list(CLI_GROUPS)
    for name in DOMAINS:
        try:
            module = importlib.import_module(f"app.{name}.cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.{name}.cli":
                raise
            continue
        groups.extend(getattr(module, "cli_groups", ()))
    for group in groups:
        app.cli.add_command(group)
