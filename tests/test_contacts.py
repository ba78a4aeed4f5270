from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from starlette.testclient import TestClient

from dashboard.cli import main
from dashboard.contacts import Contact, Contacts, ImportResult, decode_csv, sniff_delimiter
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
        "Meena,022 2345 6789,,\n"
    )
    assert result == ImportResult(
        added=2,
        updated=1,
        errors=[
            "row 3: 'call me' is not a phone number (only digits, spaces, dashes and a leading +)",
            "row 4: the name is empty",
            "row 6: '70' is not a phone number (2 digits; a phone number has 7 to 15)",
        ],
    )
    assert contacts.find("919876543210") == Contact("09876543210", "Asha R.", "Acme Ltd", "")
    assert contacts.find("02223456789") == Contact("02223456789", "Meena")
    assert contacts.find("70") is None
    contacts.import_csv("number,name\n+91 98765-43210,Asha\n")
    assert contacts.find("09876543210") == Contact("+919876543210", "Asha", "Acme Ltd", "")
    assert contacts.find("12345") is None
    assert [c.name for c in contacts.search("acme")] == ["Asha"]


ASHA = Contact("+919876543210", "Asha Rao")
RAVI = Contact("02223456789", "Ravi Kumar")


@pytest.mark.parametrize(
    "text",
    [
        # LibreOffice or Excel in a comma-decimal locale: semicolons, a BOM, CRLF.
        "\ufeffPhone;Full Name\r\n+91 98765 43210;Asha Rao\r\n022 2345 6789;Ravi Kumar\r\n",
        # Excel's "CSV (comma delimited)": capitals, quotes, the text mark, trailing blank rows.
        'MOBILE,CONTACT\r\n"+91 98765 43210","Asha Rao"\r\n\'02223456789,Ravi Kumar\r\n,\r\n,\r\n',
        # A phone's export: other headings, a bare CR between rows, spaces around values.
        "Telephone Number,Contact Name\r"
        " +91-98765-43210 , Asha  Rao \r(022) 2345 6789,Ravi Kumar\r",
        # Tab separated, the number column after others.
        "Company\tName\tTelephone\n\tAsha Rao\t+91 98765 43210\n\tRavi Kumar\t022.2345.6789\n",
        # The dashboard's own shape, a quoted value with a semicolon in it.
        'number,name,notes\n+919876543210,Asha Rao,"calls; mornings"\n02223456789,Ravi Kumar,\n',
    ],
    ids=["semicolon-bom-crlf", "excel-comma", "phone-export-cr", "tabs", "plain"],
)
def test_the_csv_shapes_spreadsheets_write_are_read(text: str) -> None:
    contacts = book()
    assert contacts.import_csv(text) == ImportResult(added=2)
    assert [(c.number, c.name) for c in contacts.search()] == [
        (ASHA.number, ASHA.name),
        (RAVI.number, RAVI.name),
    ]


def test_numbers_that_cannot_be_phone_numbers_are_refused_with_their_rows() -> None:
    contacts = book()
    result = contacts.import_csv(
        "Phone;Name\n"
        "12345;Five Digits\n"
        "98765abc10;Letters\n"
        "9.87654E+09;Excel Rounded\n"
        "1234567890123456;Sixteen Digits\n"
        ";No Number\n"
        "+91 98765 43210;Asha Rao\n"
    )
    assert result == ImportResult(
        added=1,
        errors=[
            "row 2: '12345' is not a phone number (5 digits; a phone number has 7 to 15)",
            "row 3: '98765abc10' is not a phone number"
            " (only digits, spaces, dashes and a leading +)",
            "row 4: '9.87654E+09' is not a phone number"
            " (only digits, spaces, dashes and a leading +)",
            "row 5: '1234567890123456' is not a phone number"
            " (16 digits; a phone number has 7 to 15)",
            "row 6: the number is empty",
        ],
    )
    assert contacts.search() == [ASHA]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("number,name", ","),
        ("Phone;Full Name", ";"),
        ("Phone\tName\tNotes", "\t"),
        ('"Name; or so",Number', ","),
        ("Number", ","),
        ("", ","),
    ],
)
def test_the_delimiter_is_read_from_the_header_row(header: str, delimiter: str) -> None:
    assert sniff_delimiter(header + "\n1;2;3;4;5\n") == delimiter


def test_files_are_read_as_utf8_or_as_excels_code_page() -> None:
    assert decode_csv("\ufeffname,number\nJosé,1\n".encode()) == "name,number\nJosé,1\n"
    assert decode_csv("name,number\nJosé,1\n".encode("cp1252")) == "name,number\nJosé,1\n"


def test_a_file_without_the_columns_is_refused_whole() -> None:
    contacts = book()
    result = contacts.import_csv("who;where\nAsha;Pune\n")
    assert result == ImportResult(
        errors=[
            "the first row must name the columns: a number (Number, Phone, Mobile or"
            " Telephone) and a name (Name, Full Name or Contact); it has 'who', 'where'"
        ]
    )
    assert contacts.count() == 0


def test_names_come_from_memory_and_a_change_elsewhere_is_picked_up() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    contacts = Contacts(sqlite_utils.Database(connection), 10)
    contacts.import_csv("number,name\n9876543210,Asha Rao\n")
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    assert contacts.name_of("+91 98765 43210", {"callername": "ASHA MOBILE"}) == "Asha Rao"
    assert contacts.name_of("5550100111", {"callername": "  ACME\x07 Ltd "}) == "ACME Ltd"
    assert contacts.name_of("5550100111", {}) is None
    assert contacts.keys_named("asha  RAO") == ["9876543210"]
    assert statements == []  # no query: a push renders names from memory
    connection.set_trace_callback(None)
    # Another process (the command line) writes a contact: seen once the watch looks.
    connection.execute(
        "INSERT INTO contacts (key, number, name, updated_at) VALUES ('5550100111',"
        " '5550100111', 'Ravi', '2099-01-01')"
    )
    assert contacts.name_of("5550100111", {}) is None
    assert contacts.reload_if_changed() is True
    assert contacts.name_of("5550100111", {}) == "Ravi"
    assert contacts.reload_if_changed() is False


def test_contacts_import_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_DB", str(tmp_path / "cli.db"))
    (tmp_path / "people.csv").write_text("number,name\n9876543210,Asha\nnope,Bad\n")
    assert main(["contacts", "import", str(tmp_path / "people.csv")]) == 0
    captured = capsys.readouterr()
    assert "imported: 1 added, 0 updated, 1 row skipped" in captured.out
    assert "row 3: 'nope' is not a phone number" in captured.err


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


HOSTILE = "<img src=x onerror=alert(1)>"


def test_an_import_answers_with_the_list_as_it_now_is(client: TestClient) -> None:
    csrf = sign_in(client, "supervisor")
    assert "No contacts yet." in client.get("/contacts").text
    csv_file = f"Phone;Full Name\r\n9876543210;{HOSTILE}\r\n12345;Short\r\n".encode()
    upload = client.post(
        "/contacts/import",
        headers={"x-csrf-token": csrf},
        data={"q": ""},
        files={"file": ("people.csv", csv_file, "text/csv")},
    ).text
    result, listed = upload.split('<table id="contact-list"')
    assert result == (
        '<p class="form-ok" role="status">Imported: 1 added, 0 updated, 1 row skipped.</p>\n'
        '<ul class="form-errors">\n'
        "<li>row 3: &#39;12345&#39; is not a phone number"
        " (5 digits; a phone number has 7 to 15)</li></ul>\n"
    )
    rows = re.findall(r"<tr><td>(.*?)</td><td>.*?(\d{5} \d{5})</button>", listed)
    assert rows == [("&lt;img src=x onerror=alert(1)&gt;", "98765 43210")]
    assert ' class="table" hx-swap-oob="true">' in listed and "<img" not in upload
    assert '<span id="contact-total" hx-swap-oob="true">1</span>' in listed


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
