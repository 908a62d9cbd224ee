"""Integer route arguments are bounded (issue 16): an id beyond 64 bits is "not found", never an
overflow (500); and every response carries the security headers, error responses included."""

import pytest

from tests import factories
from tests.conftest import login

HUGE = "999999999999999999999999999999"


@pytest.mark.parametrize("path", [f"/cases/{HUGE}", f"/cases/{HUGE}/edit", f"/exhibits/{HUGE}",
                                  f"/exhibits/{HUGE}/fiche", f"/exhibits/{HUGE}/thumb.png",
                                  f"/cases/{HUGE}/brief.docx", f"/cases/{HUGE}/exhibits.zip",
                                  f"/cases/{HUGE}/person-export.zip", f"/cases/{str(2**63)}",
                                  f"/cases/{str(2**63 - 1)}", f"/cases/{str(2**31)}"])
def test_huge_ids_are_not_found(client, org, path):
    login(client, factories.user(org, "admin"))
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors" in \
        response.headers["Content-Security-Policy"]


def test_headers_even_when_the_app_is_bypassed(app):
    """A response produced below Flask (here: a WSGI app raising before Flask answers) still
    gets the baseline headers from the middleware."""
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    from app.core.security import _HeadersMiddleware

    wrapped = _HeadersMiddleware(lambda environ, start_response: Response("brut", status=414)(environ, start_response))
    response = Client(wrapped).get("/x" * 10)
    assert response.status_code == 414
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["X-Frame-Options"] == "DENY"
