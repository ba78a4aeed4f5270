from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from starlette.testclient import TestClient

from dashboard.cli import main
from dashboard.contacts import Contact, Contacts
from tests.conftest import parts_of, sign_in


def book() -> Contacts:
    return Contacts(sqlite_utils.Database(sqlite3.connect(":memory:", isolation_level=None)), 10)


def test_csv_import_adds_updates_and_reports_bad_rows() -> None:
    contacts = book()
    result = contacts.import_csv(
        "\ufeffName,Number,Company,Notes\n"
        "Asha Rao,+91 98765 43210,Acme,VIP\n"
        "Bad Number,call me,,\n"
        ",0987654321,,\n"
        "Asha R.,09876543210,Acme Ltd,\n"
        "Ravi,70,,\n"
    )
    assert (result.added, result.updated) == (2, 1)
    assert result.errors == [
        "line 3: 'call me' is not a phone number",
        "line 4: the name is empty",
    ]
    assert contacts.find("919876543210") == Contact("09876543210", "Asha R.", "Acme Ltd", "")
    assert contacts.find("70") == Contact("70", "Ravi")
    contacts.import_csv("number,name\n+91 98765-43210,Asha\n")
    assert contacts.find("09876543210") == Contact("+919876543210", "Asha", "Acme Ltd", "")
    assert contacts.find("12345") is None
    assert [c.name for c in contacts.search("acme")] == ["Asha"]


def test_a_file_without_the_columns_is_refused_whole() -> None:
    contacts = book()
    result = contacts.import_csv("who,where\nAsha,Pune\n")
    assert result.errors == ["the first row must name the columns, with 'number' and 'name'"]
    assert contacts.count() == 0


def test_contacts_import_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_DB", str(tmp_path / "cli.db"))
    (tmp_path / "people.csv").write_text("number,name\n9876543210,Asha\nnope,Bad\n")
    assert main(["contacts", "import", str(tmp_path / "people.csv")]) == 0
    captured = capsys.readouterr()
    assert "imported: 1 added, 0 updated, 1 rows skipped" in captured.out
    assert "line 3: 'nope' is not a phone number" in captured.err


def test_the_contacts_page_searches_and_supervisors_import(client: TestClient) -> None:
    csrf = sign_in(client, "supervisor")
    upload = client.post(
        "/contacts/import",
        headers={"x-csrf-token": csrf},
        files={"file": ("people.csv", b"number,name\n9876543210,<b>Asha</b>\n", "text/csv")},
    )
    assert "Imported: 1 added, 0 updated." in upload.text
    page = client.get("/contacts?q=asha").text
    assert "&lt;b&gt;Asha&lt;/b&gt;" in page and 'class="dial-link"' in page
    assert client.get("/contacts?q=nobody").text.count("No contact matches.") == 1
    audit = parts_of(client).audit.entries()
    assert (audit[0].action, audit[0].detail) == ("contacts-import", "1 added, 0 updated")


def test_agents_read_contacts_but_may_not_import(anonymous: TestClient) -> None:
    csrf = sign_in(anonymous, "agent")
    assert anonymous.get("/contacts").status_code == 200
    refused = anonymous.post(
        "/contacts/import",
        headers={"x-csrf-token": csrf},
        files={"file": ("x.csv", b"number,name\n1234,A\n", "text/csv")},
    )
    assert refused.status_code == 403
    assert parts_of(anonymous).contacts.count() == 0
    sign_in(anonymous, "viewer")
    assert anonymous.get("/contacts").status_code == 403


def test_an_unreadable_csv_is_reported_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = book()
    result = contacts.import_csv("number,name\n9876543210," + "x" * 200_000 + "\n")
    assert result.errors and "cannot read the file from here" in result.errors[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_DB", str(tmp_path / "cli.db"))
    (tmp_path / "excel.csv").write_bytes("number,name\n9876543210,Jos\xe9\n".encode("cp1252"))
    assert main(["contacts", "import", str(tmp_path / "excel.csv")]) == 0
    assert "1 added" in capsys.readouterr().out
