"""Password rules: length limits checked before hashing and the bundled list of common passwords."""

import pytest

from app.auth import services


def test_bundled_list_is_large_and_only_holds_passwords_the_length_rule_lets_through():
    entries = services._common_passwords()
    assert len(entries) > 3000
    assert all(len(p) >= services.MIN_PASSWORD for p in entries)
    assert "correct horse battery staple" not in entries  # the test suite's password


@pytest.mark.parametrize("password", ["motdepasse123", "Azertyuiop123", "PASSWORD1234", "123456789012",
                                      "qwertyuiop123", "Soleil123456", "constat12345",
                                      "marseille2024"])
def test_common_passwords_refused_whatever_the_case(password):
    problem = services.password_problem(password)
    assert problem and "trop courant" in problem, password


@pytest.mark.parametrize("password,expected", [
    ("court", "au moins 12"),
    ("x" * 11, "au moins 12"),
    ("x" * 257, "ne doit pas dépasser 256"),
    ("une phrase de passe originale", None),
    ("x" * 12 + "é", None),
])
def test_length_rules(password, expected):
    problem = services.password_problem(password)
    assert (problem is None) if expected is None else (expected in problem)


def test_overlong_password_is_not_hashed(monkeypatch, volunteer):
    calls = []

    class Spy:
        def verify(self, *args):
            calls.append(args)
            return True

    monkeypatch.setattr(services, "_hasher", Spy())
    assert services.verify_password(volunteer, "y" * 100_000) is False
    assert calls == []
