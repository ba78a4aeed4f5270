"""Every refusal is one shape: `{error, detail}` JSON where programs read, an HTML page where
people do, with the same status and the same words."""

from __future__ import annotations

from httpx import Response
from starlette.testclient import TestClient

from tests.conftest import sign_in


def html_error(response: Response, status: int, words: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<!doctype html>" in response.text and words in response.text


def test_a_page_that_does_not_exist_is_an_html_page_and_the_api_says_json(
    client: TestClient,
) -> None:
    html_error(client.get("/no-such-page"), 404, "Not Found")
    api = client.get("/api/no-such-thing")
    assert (api.status_code, api.json()["error"]) == (404, "not_found")
    assert api.headers["content-type"] == "application/json"


def test_a_page_the_role_may_not_see_says_why_in_html(anonymous: TestClient) -> None:
    sign_in(anonymous, "agent")
    html_error(anonymous.get("/reports"), 403, "the agent role may not do this")
    csv = anonymous.get("/reports.csv")
    assert csv.status_code == 403 and csv.json() == {
        "error": "forbidden",
        "detail": "the agent role may not do this",
    }


def test_a_form_without_its_csrf_token_gets_an_html_page(client: TestClient) -> None:
    response = client.post("/contacts/import", files={"file": ("c.csv", b"name,number\n")})
    html_error(response, 403, "the CSRF token is missing or wrong: reload the page")
    api = client.post("/api/originate", json={"extension": "70", "number": "9876543210"})
    assert (api.status_code, api.json()["error"]) == (403, "forbidden")


def test_an_action_on_nothing_is_refused_in_the_pages_words(client: TestClient) -> None:
    csrf = sign_in(client)
    response = client.post(
        "/missed/done", data={"number_key": "123"}, headers={"x-csrf-token": csrf}
    )
    html_error(response, 404, "no such missed call to return that you may see")
