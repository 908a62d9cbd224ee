"""The contract's CLI commands, run through Flask's CLI runner against a real database."""

from sqlalchemy import func, select

from app.auth.models import Organisation, User
from app.cases.models import Case
from app.extensions import db as _db
from tests.cases.test_importer import row, write_csv, write_xlsx


def test_orgs_and_users_create(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orgs", "create", "asso-grenoble", "Permanence de Grenoble"])
    assert result.exit_code == 0, result.output
    assert _db.session.scalar(select(Organisation.ref_prefix).where(Organisation.slug == "asso-grenoble")) == "GRE"
    result = runner.invoke(args=["orgs", "create", "asso-grenoble", "Doublon"])
    assert result.exit_code != 0 and "existe déjà" in result.output
    result = runner.invoke(args=["users", "create", "Marie@Asso.test", "--org", "asso-grenoble", "--role", "lawyer"],
                           input="une phrase de passe assez longue\n")
    assert result.exit_code == 0, result.output
    assert _db.session.scalar(select(User.role).where(User.email == "marie@asso.test")) == "lawyer"
    weak = runner.invoke(args=["users", "create", "x@asso.test", "--org", "asso-grenoble", "--role", "admin"],
                         input="court\n")
    assert weak.exit_code != 0 and "12 caractères" in weak.output
    unknown = runner.invoke(args=["users", "create", "y@asso.test", "--org", "nulle-part", "--role", "admin"],
                            input="une phrase de passe assez longue\n")
    assert unknown.exit_code != 0 and "introuvable" in unknown.output


def test_cases_import_cli_reports_every_bad_row(app, org, tmp_path):
    runner = app.test_cli_runner()
    path = write_xlsx(tmp_path / "bad.xlsx", [row(), row(**{"Blocage": "X"}), row(**{"Démarche": "Y"}),
                                              row(**{"Préfecture": "999"})])
    result = runner.invoke(args=["cases", "import", str(path), "--org", org.slug])
    assert result.exit_code == 1
    for fragment in ("ligne 3, colonne « Blocage »", "ligne 4, colonne « Démarche »", "ligne 5, colonne « Préfecture »"):
        assert fragment in result.output
    assert _db.session.scalar(select(func.count(Case.id))) == 0
    ok = write_csv(tmp_path / "ok.csv", [row(), row()])
    dry = runner.invoke(args=["cases", "import", str(ok), "--org", org.slug, "--dry-run"])
    assert dry.exit_code == 0 and _db.session.scalar(select(func.count(Case.id))) == 0
    result = runner.invoke(args=["cases", "import", str(ok), "--org", org.slug])
    assert result.exit_code == 0 and "2 dossier(s)" in result.output
    assert _db.session.scalar(select(func.count(Case.id))) == 2


def test_cases_import_cli_reads_and_checks_the_issue_column(app, org, tmp_path):
    from app.cases.models import Event
    from tests.cases.test_outcomes import WITH_ISSUE, write_xlsx as write_with_issue

    runner = app.test_cli_runner()
    cases = [row(**{"Référence": "R-1"})]
    bad = write_with_issue(tmp_path / "bad.xlsx", cases, [["R-1", "02/03/2025", "ORDONNANCE", "", "victoire"]],
                           WITH_ISSUE)
    result = runner.invoke(args=["cases", "import", str(bad), "--org", org.slug])
    assert result.exit_code == 1 and "feuille « Chronologie », ligne 2, colonne « Issue »" in result.output
    assert _db.session.scalar(select(func.count(Case.id))) == 0
    ok = write_with_issue(tmp_path / "ok.xlsx", cases, [["R-1", "02/03/2025", "ORDONNANCE", "", "Injonction"]],
                          WITH_ISSUE)
    result = runner.invoke(args=["cases", "import", str(ok), "--org", org.slug])
    assert result.exit_code == 0 and "1 événement(s)" in result.output
    assert _db.session.scalar(select(Event.outcome)) == "INJONCTION"


def test_demo_seed_is_idempotent_and_realistic(app):
    app.config["DEMO_PASSWORD"] = "mot de passe de demo"
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "benevole@demo-lyon.test" in first.output
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0 and "déjà présentes" in second.output
    for slug in ("demo-lyon", "demo-paris"):
        org_id = _db.session.scalar(select(Organisation.id).where(Organisation.slug == slug))
        cases = _db.session.scalars(select(Case).where(Case.org_id == org_id)).all()
        assert len(cases) >= 30
        assert len({c.primary_blocage for c in cases}) >= 10
        assert len({c.prefecture for c in cases}) >= 4
        assert len({c.status for c in cases}) >= 3
        opened = sorted(c.opened_on for c in cases)
        assert (opened[-1] - opened[0]).days > 300
        assert sum(len(c.events) for c in cases) > 5 * len(cases)
    assert _db.session.scalar(select(func.count(User.id))) == 8


def test_demo_seed_refused_in_production(app):
    app.config["PRODUCTION"] = True
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code != 0 and "production" in result.output


def test_users_reset_2fa(app, org):
    from tests import factories

    user = factories.user(org, "admin")
    user.totp_secret = "JBSWY3DPEHPK3PXP"
    version = user.session_version
    _db.session.commit()
    result = app.test_cli_runner().invoke(args=["users", "reset-2fa", user.email.upper()])
    assert result.exit_code == 0, result.output
    _db.session.expire_all()
    assert user.totp_secret is None and user.session_version == version + 1
    assert app.test_cli_runner().invoke(args=["users", "reset-2fa", "nobody@x.test"]).exit_code == 1
