"""Every refusal is one shape: `{error, detail}` JSON where programs read, an HTML page where
people do, with the same status and the same words."""

from __future__ import annotations

import html
import re
from http import HTTPStatus
from typing import Any, cast

import pytest
from httpx import Response
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.errors import HEADINGS, SERVER_FAULT
from dashboard.history import History
from dashboard.settings import Settings
from tests.conftest import FakeClock, parts_of, sign_in


def html_error(response: Response, status: int, words: str) -> None:
    """An error page with the navigation, its heading, and `words`, exactly."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in response.text
    said = re.search(
        r'<p class="error-words" role="alert" data-error="[^"]*">([^<]*)</p>', response.text
    )
    assert said is not None and html.unescape(said[1]) == words
    assert '<nav class="nav" aria-label="Main">' in response.text
    heading = re.search(r'<h2 class="error-heading">([^<]*)</h2>', response.text)
    assert heading is not None and heading[1] == HEADINGS.get(status, HTTPStatus(status).phrase)


def test_a_page_that_does_not_exist_is_an_html_page_and_the_api_says_json(
    client: TestClient,
) -> None:
    html_error(
        client.get("/no-such-page"),
        404,
        "There is no page at this address. The links above lead to every page.",
    )
    api = client.get("/api/no-such-thing")
    assert (api.status_code, api.json()["error"]) == (404, "not_found")
    assert api.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("role", "path", "words"),
    [
        ("agent", "/reports", "Agents may not open reports."),
        ("agent", "/admin/audit", "Agents may not read the audit log."),
        ("supervisor", "/admin/kiosks", "Supervisors may not manage wall screens."),
        ("viewer", "/calls", "Viewers may not open the call history."),
        ("viewer", "/calls/1.1", "Viewers may not open the call history."),
        ("viewer", "/missed", "Viewers may not work the missed calls."),
    ],
)
def test_a_page_the_role_may_not_see_says_why_in_words_with_the_navigation(
    anonymous: TestClient, role: str, path: str, words: str
) -> None:
    sign_in(anonymous, role)
    html_error(anonymous.get(path), 403, words)


def test_the_role_refusal_stays_json_for_programs_and_a_toast_for_htmx(
    anonymous: TestClient,
) -> None:
    sign_in(anonymous, "agent")
    csv = anonymous.get("/reports.csv")
    assert csv.status_code == 403 and csv.json() == {
        "error": "forbidden",
        "detail": "the agent role may not do this",
    }
    clicked = anonymous.get("/reports", headers={"hx-request": "true"})
    assert (clicked.status_code, clicked.text) == (
        403,
        '<div class="toast is-error" role="alert">\n'
        '  <p class="toast-words">Agents may not open reports.</p>\n'
        "</div>",
    )


def test_a_form_without_its_csrf_token_gets_an_html_page(client: TestClient) -> None:
    response = client.post("/contacts/import", files={"file": ("c.csv", b"name,number\n")})
    html_error(response, 403, "The CSRF token is missing or wrong: reload the page.")
    api = client.post("/api/originate", json={"extension": "70", "number": "9876543210"})
    assert (api.status_code, api.json()["error"]) == (403, "forbidden")


def test_an_action_on_nothing_is_refused_in_the_pages_words(client: TestClient) -> None:
    csrf = sign_in(client)
    response = client.post(
        "/missed/done", data={"number_key": "123"}, headers={"x-csrf-token": csrf}
    )
    html_error(response, 404, "No such missed call to return that you may see.")


class BrokenHistory:
    """A history whose every read fails, as a bug or a broken disk would make it."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("SECRET-INTERNALS: /var/lib/dashboard/dashboard.db is on fire")


def test_a_fault_is_a_500_page_in_words_that_leaks_nothing(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        sign_in(client)
        parts_of(client).history = cast(History, BrokenHistory())
        page = client.get("/calls")
        html_error(page, 500, SERVER_FAULT)
        api = client.get("/api/calls")
        assert (api.status_code, api.json()) == (
            500,
            {
                "error": "internal",
                "detail": "the dashboard could not handle this request; see its log",
            },
        )
        for response in (page, api):
            assert "SECRET" not in response.text and "Traceback" not in response.text
    assert "SECRET-INTERNALS" in caplog.text  # the log has it, for whoever runs the dashboard


def test_an_address_used_the_wrong_way_says_so_in_words(client: TestClient) -> None:
    csrf = sign_in(client)
    response = client.put("/calls", headers={"x-csrf-token": csrf})
    html_error(
        response, 405, "This address cannot be used that way: follow a link or a button to it."
    )


def test_a_page_not_found_for_someone_signed_out_offers_the_sign_in(
    anonymous: TestClient,
) -> None:
    response = anonymous.get("/no-such-page")
    assert response.status_code == 404 and '<nav class="nav"' not in response.text
    ways = re.search(r'<p class="error-ways">(.*?)</p>', response.text)
    assert ways is not None and ways[1] == '<a href="/login">Sign in</a>'
