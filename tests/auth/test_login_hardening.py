"""Regression tests from the security review: redirects after login, 2FA guessing budget."""

import pyotp
import pytest

from app.auth import services
from app.extensions import db as _db
from tests import factories
from tests.conftest import PASSWORD, csrf_token


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example",
                                    "/%0a/evil", "/\n/evil.example", "/ /evil.example"])
def test_next_never_leaves_the_site(client, volunteer, target):
    token = csrf_token(client)
    response = client.post("/login?next=" + target.replace("\t", "%09").replace("\n", "%0A").replace(" ", "%20"),
                           data={"email": volunteer.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.location in ("/cases/", "/login/2fa")


def test_logging_in_again_does_not_reset_wrong_second_factor_codes(app, org):
    user = factories.user(org, "lawyer")
    user.totp_secret = pyotp.random_base32()
    _db.session.commit()
    limits = {"max_failures": 5, "lock_minutes": 15}
    for _ in range(2):  # the attacker knows the password and retries the code from fresh logins
        assert services.authenticate(user.email, PASSWORD, **limits).user is not None
        for _ in range(2):
            assert services.check_second_factor(user, "000000", **limits) is not None
        _db.session.commit()
    assert services.authenticate(user.email, PASSWORD, **limits).user is not None
    message = services.check_second_factor(user, "000000", **limits)
    _db.session.commit()
    assert "réessayez" in message  # the 5th wrong code locks, however many logins came between
    assert services.authenticate(user.email, PASSWORD, **limits).user is None
