"""`flask deadlines notify` against a real SMTP server (aiosmtpd) started by the test."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.audit.models import AuditRecord
from app.core.clock import utcnow
from app.deadlines import services
from app.deadlines.mail import SmtpSettings
from app.deadlines.models import DigestSend
from app.extensions import db
from tests import factories
from tests.deadlines.conftest import free_port
from tests.deadlines.helpers import challenge_end, silent_deposit_case, today, use_smtp


def run(app, *args):
    return app.test_cli_runner().invoke(args=["deadlines", "notify", *args])


def test_digest_reaches_followers_and_admins_with_references_only(app, org, other_org, members, smtp_server):
    volunteer, admin = members["volunteer"], members["admin"]
    followed = silent_deposit_case(org, volunteer)
    nobody = silent_deposit_case(org, None, last_name="Benali", first_name="Nadia")
    elsewhere = silent_deposit_case(other_org, None)
    other_admin = factories.user(other_org, "admin")
    use_smtp(app, smtp_server.port)
    result = run(app)
    assert result.exit_code == 0, result.output
    to_volunteer = smtp_server.handler.to(volunteer.email)
    to_admin = smtp_server.handler.to(admin.email)
    assert len(to_volunteer) == 1 and len(to_admin) == 1
    assert followed.reference in to_volunteer[0].text and nobody.reference not in to_volunteer[0].text
    admin_text = to_admin[0].text
    assert nobody.reference in admin_text and f"{nobody.reference} · Fin du délai de recours · nouveau · sans suivi" \
        in admin_text
    assert followed.reference not in admin_text  # followed by someone else
    assert elsewhere.reference not in admin_text
    assert challenge_end().strftime("%d/%m/%Y") in admin_text and "Fin du délai de recours" in admin_text
    assert f"https://constat.test/cases/{nobody.id}" in admin_text
    for message in smtp_server.handler.messages:  # mail crosses servers we do not control
        for secret in ("Traoré", "TRAORÉ", "Awa", "Benali", "Nadia", "1234567890", "Diallo"):
            assert secret not in message.text and secret not in message.content.decode("utf-8", "replace")
        assert message.mail_from == "no-reply@constat.test"
    assert not smtp_server.handler.to(members["coordinator"].email)  # follows nothing
    assert not smtp_server.handler.to(members["lawyer"].email)
    other_text = smtp_server.handler.to(other_admin.email)[0].text
    assert elsewhere.reference in other_text and followed.reference not in other_text
    assert db.session.scalar(select(func.count(AuditRecord.id)).where(AuditRecord.action == "deadlines.digest")) == 3


def test_a_second_run_the_same_day_sends_nothing_twice(app, org, members, smtp_server):
    silent_deposit_case(org, members["volunteer"])
    use_smtp(app, smtp_server.port)
    assert run(app).exit_code == 0
    assert len(smtp_server.handler.messages) == 1
    again = run(app)
    assert again.exit_code == 0 and "1 déjà envoyé(s) aujourd'hui" in again.output
    assert len(smtp_server.handler.messages) == 1
    sent = db.session.scalars(select(DigestSend)).all()
    assert [(s.day, s.state, s.items) for s in sent] == [(today(), "sent", 1)]


def test_without_smtp_host_nothing_is_sent_and_the_command_says_so(app, org, members):
    silent_deposit_case(org, members["volunteer"])
    app.config["SMTP_HOST"] = ""
    result = run(app)
    assert result.exit_code != 0
    assert "SMTP_HOST n'est pas configuré : aucun courriel envoyé" in result.output
    assert result.output.count("SMTP_HOST") == 1
    dry = run(app, "--dry-run")
    assert dry.exit_code == 0 and f"à envoyer : {members['volunteer'].email} (1 échéance(s))" in dry.output
    assert db.session.scalar(select(func.count(DigestSend.id))) == 0


def test_unreachable_server_loses_nothing_and_the_next_run_sends(app, org, members, smtp_server):
    silent_deposit_case(org, members["volunteer"])
    use_smtp(app, free_port())  # nothing listens there
    result = run(app)
    assert result.exit_code != 0 and "injoignable" in result.output and "prochain passage" in result.output
    assert db.session.scalar(select(func.count(DigestSend.id))) == 0
    use_smtp(app, smtp_server.port)
    assert run(app).exit_code == 0
    assert len(smtp_server.handler.to(members["volunteer"].email)) == 1


def test_a_refused_recipient_is_retried_and_the_others_still_go(app, org, members, smtp_server):
    silent_deposit_case(org, members["volunteer"])
    silent_deposit_case(org, members["lawyer"])
    smtp_server.handler.refuse.add(members["volunteer"].email)
    use_smtp(app, smtp_server.port)
    result = run(app)
    assert result.exit_code != 0 and "refusé par le serveur" in result.output
    assert len(smtp_server.handler.to(members["lawyer"].email)) == 1
    assert db.session.scalar(select(DigestSend.user_id)) == members["lawyer"].id
    smtp_server.handler.refuse.clear()
    assert run(app).exit_code == 0
    assert len(smtp_server.handler.to(members["volunteer"].email)) == 1
    assert len(smtp_server.handler.to(members["lawyer"].email)) == 1


def test_weekly_off_and_users_without_address(app, org, members, smtp_server):
    volunteer, lawyer, admin = members["volunteer"], members["lawyer"], members["admin"]
    # The titre expires in 10 days: within the weekly digest's 14 days a week from now too.
    factories.case(org, volunteer, demarche="PREMIERE", titre_expiry=today() + timedelta(days=10),
                   volunteer_id=volunteer.id)
    silent_deposit_case(org, lawyer)
    silent_deposit_case(org, admin)
    services.set_digest(volunteer, "weekly")
    services.set_digest(lawyer, "off")
    admin.email = "sans-adresse"
    db.session.commit()
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "", "", "no-reply@constat.test", False)
    day = today()
    report = services.notify(day, settings=settings, base_url="https://constat.test")
    assert [address for address, _ in report.sent] == [volunteer.email] and report.no_email == 1
    for later, due in ((1, False), (6, False), (7, True)):
        report = services.notify(day + timedelta(days=later), settings=settings, base_url="https://constat.test")
        assert bool(report.sent) is due, later
    assert not smtp_server.handler.to(lawyer.email)


def test_a_fresh_claim_of_another_run_is_respected_a_stale_one_taken_over(app, org, members, smtp_server):
    volunteer = members["volunteer"]
    silent_deposit_case(org, volunteer)
    claim = DigestSend(user_id=volunteer.id, day=today(), state="sending", claimed_at=utcnow())
    db.session.add(claim)
    db.session.commit()
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "", "", "no-reply@constat.test", False)
    report = services.notify(today(), settings=settings, base_url="https://constat.test")
    assert report.already == 1 and not smtp_server.handler.messages
    claim.claimed_at = utcnow() - timedelta(hours=1)  # that run died mid-send
    db.session.commit()
    report = services.notify(today(), settings=settings, base_url="https://constat.test")
    assert len(report.sent) == 1 and len(smtp_server.handler.messages) == 1
    db.session.expire_all()
    assert db.session.get(DigestSend, claim.id).state == "sent"


def test_credentials_never_sent_in_clear_to_a_remote_server(app, org, members):
    silent_deposit_case(org, members["volunteer"])
    settings = SmtpSettings("smtp.example.org", 25, "compte", "secret", "no-reply@constat.test", False)
    report = services.notify(today(), settings=settings, base_url="https://constat.test")
    assert "en clair" in report.unavailable and report.left == 1 and not report.sent


def test_a_far_deadline_is_told_once_when_new_then_again_when_near(app, org, members, smtp_server):
    silent_deposit_case(org, members["volunteer"])
    settings = SmtpSettings("127.0.0.1", smtp_server.port, "", "", "no-reply@constat.test", False)
    day = today()
    first = services.notify(day, settings=settings, base_url="https://constat.test")
    assert first.sent and "Nouvelles échéances plus lointaines (1)" in smtp_server.handler.messages[-1].text
    assert not services.notify(day + timedelta(days=1), settings=settings, base_url="https://constat.test").sent
    near = challenge_end() - timedelta(days=5)
    assert services.notify(near, settings=settings, base_url="https://constat.test").sent
    text = smtp_server.handler.messages[-1].text
    assert "Dans les 7 prochains jours (1)" in text and "nouveau" not in text.split("(1)")[1]
