from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from starlette.testclient import TestClient
from starlette.types import Message

from dashboard.cli import main
from dashboard.contacts import (
    IMPORT_STEP,
    Contact,
    Contacts,
    ImportResult,
    decode_csv,
    sniff_delimiter,
)
from dashboard.views.contacts import MAX_UPLOAD_BYTES
from tests.conftest import http_scope, parts_of, sign_in


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
        refused="the first row must name the columns: a number (Number, Phone, Mobile or"
        " Telephone) and a name (Name, Full Name or Contact); it has 'who', 'where'"
    )
    assert result.summary() == "nothing, " + result.refused
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
    (tmp_path / "wrong.csv").write_text("who,where\nAsha,Pune\n")
    assert main(["contacts", "import", str(tmp_path / "wrong.csv")]) == 1
    assert "imported: nothing, the first row must name the columns" in capsys.readouterr().out


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


def on_disk(path: Path) -> Contacts:
    connection = sqlite3.connect(path / "contacts.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    return Contacts(sqlite_utils.Database(connection), 10)


def test_a_big_import_lets_the_event_loop_go_on_and_counts_as_one_written_at_once(
    tmp_path: Path,
) -> None:
    rows = [f"98{n:08d},Caller {n}" for n in range(3 * IMPORT_STEP)]
    rows.append("9800000007,Caller seven again")  # in another step than its first time
    rows.append("9800012000,Last")
    rows.append("9800012000,Last again")  # twice in one step
    text = "number,name\n" + "\n".join(rows) + "\n"
    contacts = on_disk(tmp_path)
    turns = 0

    async def import_while_counting_turns() -> tuple[ImportResult, int]:
        nonlocal turns
        importing = asyncio.ensure_future(contacts.import_csv_aside(text))
        while not importing.done():
            turns += 1
            await asyncio.sleep(0)
        return importing.result(), turns

    result, turns_meanwhile = asyncio.run(import_while_counting_turns())
    # Read in a thread, written in steps, the list indexed in a thread: the loop turned
    # between them, at least once a step.
    assert turns_meanwhile >= 3
    assert result == ImportResult(added=3 * IMPORT_STEP + 1, updated=2)
    assert contacts.count() == 3 * IMPORT_STEP + 1
    assert contacts.find("9800000007") == Contact("9800000007", "Caller seven again", "", "")
    assert contacts.find("9800012000") == Contact("9800012000", "Last again", "", "")
    assert contacts.keys_named("caller 5999") == ["9800005999"]
    again = on_disk(tmp_path)  # what a restart reads: the same
    assert (again.count(), again.find("9800012000")) == (
        3 * IMPORT_STEP + 1,
        Contact("9800012000", "Last again", "", ""),
    )


def test_the_import_of_the_command_line_and_of_a_request_store_the_same(tmp_path: Path) -> None:
    text = "Phone;Full Name;Company\n98765 43210;Asha  Rao;Acme\n98765-43210;Asha R;\nx;y;z\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    at_once, in_steps = on_disk(tmp_path / "a"), on_disk(tmp_path / "b")
    assert at_once.import_csv(text) == asyncio.run(in_steps.import_csv_aside(text))
    assert at_once.search() == in_steps.search()


def upload_in_pieces(
    client: TestClient, csrf: str, pieces: int, piece: int, *, declared: bool
) -> tuple[str, int]:
    """A CSV file of `pieces` x `piece` bytes POSTed as a browser does, handed on in pieces
    (with a Content-Length, or without one as a chunked body is): the answer, and how many
    pieces the dashboard read."""
    head = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nnumber,name\n"
    )
    rows = b"9876543210,Asha\n" * (piece // 16)
    body = [head, *[rows] * pieces, b"\r\n--b--\r\n"]
    headers = [
        (b"x-csrf-token", csrf.encode()),
        (b"content-type", b"multipart/form-data; boundary=b"),
    ]
    if declared:
        headers.append((b"content-length", str(sum(map(len, body))).encode()))
    scope = http_scope(client, "POST", "/contacts/import", headers)
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": body[read - 1], "more_body": read < len(body)}

    async def send(message: Message) -> None:
        sent.append(message)

    assert client.portal is not None
    client.portal.call(client.app, scope, receive, send)
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return answer.decode(), read


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_file_past_the_limit_is_refused_without_reading_it_all(
    client: TestClient, declared: bool
) -> None:
    csrf = sign_in(client, "supervisor")
    piece = 64 * 1024
    answer, read = upload_in_pieces(client, csrf, 160, piece, declared=declared)  # 10 MiB
    assert answer == (
        '<p class="form-error" role="status">Imported: nothing, the file is larger than'
        " 5 MiB.</p>\n"
    )  # and the list below the form stays as the page shows it
    # Declared too large: not read at all; else the form's head, then the file's pieces up
    # to the one that passes the limit.
    assert read == (0 if declared else 1 + MAX_UPLOAD_BYTES // piece)
    assert parts_of(client).contacts.count() == 0
    answer, _ = upload_in_pieces(client, csrf, 2, piece, declared=declared)  # 128 KiB: taken
    assert '<p class="form-ok" role="status">Imported: 1 added, 8191 updated.</p>' in answer


def test_the_list_is_indexed_on_the_main_connection_when_no_other_can_read_it(
    tmp_path: Path,
) -> None:
    contacts = on_disk(tmp_path)
    (tmp_path / "contacts.db").unlink()  # open here still, but not for another connection
    result = asyncio.run(contacts.import_csv_aside("number,name\n9876543210,Asha\n"))
    assert result == ImportResult(added=1)
    assert contacts.find("9876543210") == Contact("9876543210", "Asha", "", "")


def test_two_imports_at_once_leave_the_list_as_stored(tmp_path: Path) -> None:
    """The second import's file is read slowly, and the first one's list, read before the
    second import writes, comes back last: the names shown must still be the stored ones."""
    calls = 0

    async def aside(function: Callable[..., Any], *args: Any) -> Any:
        nonlocal calls
        calls += 1
        call = calls
        if call == 2:  # the second import's file: read while the first import goes on
            for _ in range(10):
                await asyncio.sleep(0)
        result = function(*args)
        if call == 3:  # the first import's list, read now: back after a while
            for _ in range(50):
                await asyncio.sleep(0)
        return result

    path = tmp_path / "contacts.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    contacts = Contacts(sqlite_utils.Database(connection), 10, aside)

    async def both() -> None:
        first = contacts.import_csv_aside("number,name\n9876543210,From the first\n")
        second = contacts.import_csv_aside("number,name\n9876543210,From the second\n")
        await asyncio.gather(first, second)

    asyncio.run(both())
    assert contacts.find("9876543210") == Contact("9876543210", "From the second", "", "")
