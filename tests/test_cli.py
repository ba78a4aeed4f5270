from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.audit import AuditEntry, AuditLog
from dashboard.auth import Accounts
from dashboard.cli import main
from dashboard.settings import Settings
from dashboard.signins import Scope, Throttle
from dashboard.store import Store
from tests.conftest import FakeClock, parts_of, try_sign_in

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI reads its settings from the environment, as in production."""
    path = tmp_path / "cli.db"
    monkeypatch.chdir(tmp_path)
    for name in ("SYNAPSE_EVENT_TOKEN", "SYNAPSE_EVENT_ALLOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DASHBOARD_DB", str(path))
    return path


def accounts(db: Path) -> Accounts:
    return Accounts(Store.open(str(db)).db, kdf_n=2**10)


def test_users_are_added_listed_changed_and_disabled(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            ["user", "add", "Asha", "--role", "agent", "--extension", "70", "--password", PASSWORD]
        )
        == 0
    )
    assert main(["user", "add", "sam", "--role", "supervisor", "--password", PASSWORD]) == 0
    assert main(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert "added asha (agent, extension 70)" in out
    assert "asha" in out and "sam" in out and PASSWORD not in out
    assert main(["user", "passwd", "sam", "--password", PASSWORD + "!"]) == 0
    user, stored = accounts(db).credentials("sam")
    assert user is not None and PASSWORD + "!" not in stored
    assert main(["user", "disable", "asha"]) == 0
    disabled = accounts(db).find_user("asha")
    assert disabled is not None and disabled.disabled


def test_bad_user_input_is_refused_with_a_reason(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "add", "bob", "--role", "agent", "--password", PASSWORD]) == 1
    assert "needs an extension" in capsys.readouterr().err
    assert main(["user", "add", "bob", "--role", "admin", "--password", "short"]) == 1
    assert main(["user", "passwd", "nobody", "--password", PASSWORD]) == 1
    assert "no user named" in capsys.readouterr().err
    assert accounts(db).users() == []


def test_a_prompted_password_must_be_typed_twice_alike(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert main(["user", "add", "sam", "--role", "admin"]) == 1
    answers = iter([PASSWORD, PASSWORD])
    assert main(["user", "add", "sam", "--role", "admin"]) == 0


def test_tokens_are_printed_once_and_revoked(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["user", "add", "sam", "--role", "supervisor", "--password", PASSWORD])
    capsys.readouterr()
    assert main(["token", "create", "sam"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("syn_") and accounts(db).tokens.user(token) is not None
    assert main(["token", "revoke", token]) == 0
    assert accounts(db).tokens.user(token) is None
    assert main(["token", "revoke", token]) == 1
    main(["token", "create", "sam"])
    assert main(["token", "revoke", "--user", "sam"]) == 0
    assert "revoked 1 token(s)" in capsys.readouterr().out


def test_a_new_password_revokes_the_users_tokens(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["user", "add", "sam", "--role", "supervisor", "--password", PASSWORD])
    main(["token", "create", "sam"])
    token = capsys.readouterr().out.split()[-1]
    assert main(["user", "passwd", "sam", "--password", PASSWORD + "!"]) == 0
    assert capsys.readouterr().out == (
        "password changed for sam; their sessions and API tokens are ended\n"
    )
    assert accounts(db).tokens.user(token) is None


def test_unlock_clears_every_lock_and_count_of_a_name(
    db: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = "203.0.113.5", "198.51.100.7"
    behind = Settings(
        db_path=str(db),
        password_kdf_n=2**10,
        sign_in_delay_seconds=0,
        trusted_proxies=("10.0.0.1",),
    )
    with TestClient(create_app(behind, clock=clock), client=("10.0.0.1", 40000)) as client:
        parts_of(client).accounts.add_user("sam", "admin", PASSWORD)
        for _ in range(5):
            try_sign_in(client, "sam", "wrong password", a)
        try_sign_in(client, "sam", "wrong password", b)
        assert try_sign_in(client, "sam", PASSWORD, a)[0] == 429
        started = datetime.now(UTC)
        assert main(["user", "unlock", "Sam"]) == 0  # from a shell, beside the dashboard
        ended = datetime.now(UTC)
        until = clock.now + timedelta(minutes=15)
        said = [
            f"cleared 1 failed sign-in of sam from {b}",
            f"unlocked sam from {a} (it was locked until {until.isoformat()})",
        ]
        assert capsys.readouterr().out.splitlines() == said
        assert try_sign_in(client, "sam", PASSWORD, a) == (303, "")
    entries = AuditLog(Store.open(str(db)).db).entries()
    unlocks = [entry for entry in entries if entry.action == "sign-in unlock"]
    assert all(started <= entry.at <= ended for entry in unlocks)
    assert [replace(entry, at=started) for entry in unlocks] == [
        AuditEntry(9, started, "command line", "sign-in unlock", "sam", "ok", a, said[1]),
        AuditEntry(8, started, "command line", "sign-in unlock", "sam", "ok", b, said[0]),
    ]


def test_unlock_says_when_there_is_nothing_and_clears_an_address_when_asked(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = "203.0.113.5"
    sign_ins = accounts(db).sign_ins
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    for name in ("ann", "bob"):
        sign_ins.begin(name, a, now)
    assert main(["user", "unlock", "sam"]) == 0
    assert capsys.readouterr().out == "nothing to clear: no failed sign-ins nor locks for sam\n"
    assert main(["user", "unlock", "sam", "--address", a]) == 0
    assert capsys.readouterr().out == f"cleared 2 failed sign-ins of any name from {a}\n"
    assert accounts(db).sign_ins.rows() == [
        Throttle(Scope.NAME, "ann", a, 1, None, now),
        Throttle(Scope.NAME, "bob", a, 1, None, now),
    ]


def test_serve_refuses_to_accept_events_from_anyone_unless_told(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "1"]) == 2
    assert "SYNAPSE_EVENT_TOKEN" in capsys.readouterr().err


def test_a_wall_screen_link_for_a_group(
    db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHBOARD_GROUPS", "Sales: 40-49")
    assert main(["kiosk", "create", "Floor", "--group", "Nowhere"]) == 2
    assert "no such group: 'Nowhere' (groups: Sales)" in capsys.readouterr().err
    assert main(["kiosk", "create", "Sales floor", "--group", "Sales"]) == 0
    assert capsys.readouterr().out.startswith("/kiosk/")
    assert main(["kiosk", "list"]) == 0
    assert capsys.readouterr().out.split() == ["1", "Sales", "floor", "Sales", "active"]
