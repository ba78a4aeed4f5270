"""`dashboard demo`'s parts that need no server: its users and their kept passwords, the
sign-ins printed on demand, and recording links that follow a simulator to its new port."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.auth import Accounts, Role
from dashboard.cli import main
from dashboard.cli_demo import (
    DEMO_CONTACTS,
    demo_contacts,
    demo_sign_ins,
    repoint_recordings,
    sign_ins_text,
)
from dashboard.contacts import Contacts
from dashboard.passwords import verify_password
from dashboard.settings import Settings
from dashboard.simulator.traffic import REGULAR_CALLERS
from dashboard.store import Store


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI reads its settings from the environment, as in production."""
    path = tmp_path / "demo.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DASHBOARD_DB", str(path))
    return path


def accounts(db: Path) -> Accounts:
    return Accounts(Store.open(str(db)).db, kdf_n=2**10)


def test_demo_users_one_per_role_their_passwords_made_once_and_kept(db: Path) -> None:
    first = demo_sign_ins(accounts(db))
    assert [(role, name) for role, name, _ in first] == [
        (Role.ADMIN, "demo-admin"),
        (Role.SUPERVISOR, "demo-supervisor"),
        (Role.AGENT, "demo-agent"),
        (Role.VIEWER, "demo-viewer"),
    ]
    assert len({password for *_, password in first}) == 4
    assert demo_sign_ins(accounts(db)) == first  # the next start, on the same database
    agent = accounts(db).find_user("demo-agent")
    assert agent is not None and agent.extension == "70"


def test_a_demo_user_whose_password_was_changed_gets_the_printed_one_back(db: Path) -> None:
    first = demo_sign_ins(accounts(db))
    accounts(db).set_password("demo-viewer", "another password entirely")
    assert demo_sign_ins(accounts(db)) == first
    _, stored = accounts(db).credentials("demo-viewer")
    assert verify_password(first[3][2], stored)


def test_the_sign_ins_are_printed_again_on_demand(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--sign-ins"]) == 1
    assert capsys.readouterr().err == (
        f"dashboard: no demo users in {db}: start the demo first (make run)\n"
    )
    assert not db.exists()
    sign_ins = demo_sign_ins(accounts(db))
    assert main(["demo", "--sign-ins", "--port", "8080"]) == 0
    assert capsys.readouterr().out == sign_ins_text("http://127.0.0.1:8080/", sign_ins) + "\n"


def test_sign_ins_read_as_a_block_with_the_way_to_see_them_again() -> None:
    text = sign_ins_text("http://127.0.0.1:8000/", [(Role.ADMIN, "demo-admin", "s3cret")])
    assert text.splitlines() == [
        "",
        "Demo: open http://127.0.0.1:8000/ and sign in as one of:",
        "  admin       user demo-admin       password s3cret",
        "(`dashboard demo --sign-ins`, or `make sign-ins`, prints these again.)",
    ]


def test_recording_links_follow_the_simulator_to_its_new_port(db: Path) -> None:
    store = Store.open(str(db))
    path = "/callrecord/2026/Nov/27112026/27112026seed-1.1.wav"
    rows = [
        ("127.0.0.1", "a", f"http://127.0.0.1:8001{path}"),
        ("127.0.0.1", "b", f"http://127.0.0.1{path}"),  # as seeded before: port 80
        ("127.0.0.1", "c", f"http://127.0.0.1:8002{path}"),
        ("127.0.0.1", "d", None),
        ("10.0.0.2", "e", f"http://127.0.0.1:8001{path}"),
    ]
    store.db.conn.executemany(
        "INSERT INTO calls (host, uniqueid, status, cdr_seen, extra, recordlink)"
        " VALUES (?, ?, 'finished', 1, '{}', ?)",
        rows,
    )
    assert repoint_recordings(store, "127.0.0.1", "http://127.0.0.1:8002") == 2
    assert store.db.execute(
        "SELECT uniqueid, recordlink FROM calls ORDER BY uniqueid"
    ).fetchall() == [
        ("a", f"http://127.0.0.1:8002{path}"),
        ("b", f"http://127.0.0.1:8002{path}"),
        ("c", f"http://127.0.0.1:8002{path}"),
        ("d", None),
        ("e", f"http://127.0.0.1:8001{path}"),
    ]


def test_the_demo_names_the_simulators_regular_callers_and_keeps_ones_own_changes(
    db: Path,
) -> None:
    settings = Settings(db_path=str(db))
    assert demo_contacts(settings) == len(REGULAR_CALLERS) == len(DEMO_CONTACTS)

    def names() -> list[str | None]:
        contacts = Contacts(Store.open(str(db)).db, settings.phone_match_digits)
        return [contacts.name_of(number, {}) for number in REGULAR_CALLERS]

    assert names() == [name for name, _ in DEMO_CONTACTS]
    first = REGULAR_CALLERS[0]
    Contacts(Store.open(str(db)).db, settings.phone_match_digits).import_csv(
        f"number,name\n{first},Meera Iyer (new office)\n"
    )
    assert demo_contacts(settings) == 0  # the next start of the demo
    assert names()[:2] == ["Meera Iyer (new office)", "Rahul Verma"]
