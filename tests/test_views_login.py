"""Signing in: where it sends you afterwards is always a path on this site."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from dashboard.views.login import safe_next
from tests.conftest import PASSWORD, parts_of


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/calls?period=today", "/calls?period=today"),
        ("", "/"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("calls", "/"),
        ("http://[::1", "/"),  # urlsplit raises on it
        ("/[", "/["),
        ("//[", "/"),
    ],
)
def test_only_a_path_on_this_site_is_followed(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_an_unreadable_next_signs_in_to_the_wallboard(anonymous: TestClient) -> None:
    form = anonymous.get("/login", params={"next": "http://[::1"})
    assert form.status_code == 200
    assert re.findall(r'name="next" value="([^"]*)"', form.text) == ["/"]
    parts_of(anonymous).accounts.add_user("asha", "agent", PASSWORD, "70")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    response = anonymous.post(
        "/login",
        data={"name": "asha", "password": PASSWORD, "csrf_token": csrf[1], "next": "http://[::1"},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/")
