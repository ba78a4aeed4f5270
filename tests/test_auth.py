from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from dashboard.auth import Accounts, AuthError, Role, User
from dashboard.passwords import hash_password, token_digest, verify_password

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def accounts() -> Accounts:
    db = sqlite_utils.Database(sqlite3.connect(":memory:", isolation_level=None))
    return Accounts(db, kdf_n=2**10)


def test_passwords_are_hashed_with_scrypt_and_verified() -> None:
    stored = hash_password(PASSWORD, n=2**10)
    assert stored.startswith("scrypt$1024$8$1$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not verify_password(PASSWORD, "garbage")
    assert hash_password(PASSWORD, n=2**10) != stored  # salted


def test_adding_users_checks_what_it_is_given() -> None:
    store = accounts()
    agent = store.add_user("Asha", "agent", PASSWORD, "70")
    assert agent == User(1, "asha", Role.AGENT, "70", False)
    assert store.users() == [agent]
    refusals = [
        ("asha", "admin", PASSWORD, None, "already exists"),
        ("bob", "janitor", PASSWORD, None, "unknown role"),
        ("bob", "agent", PASSWORD, None, "needs an extension"),
        ("bob", "supervisor", PASSWORD, "7x", "digits only"),
        ("bob", "admin", "short", None, "at least 10"),
        ("bob smith", "admin", PASSWORD, None, "a user name is"),
        ("", "admin", PASSWORD, None, "a user name is"),
    ]
    for name, role, password, extension, message in refusals:
        with pytest.raises(AuthError, match=message):
            store.add_user(name, role, password, extension)
    assert store.users() == [agent]


def test_credentials_and_the_lock_after_repeated_failures() -> None:
    store = accounts()
    user = store.add_user("sup", "supervisor", PASSWORD)
    found, stored = store.credentials("SUP")
    assert found == user and verify_password(PASSWORD, stored)
    unknown, decoy = store.credentials("nobody")
    assert unknown is None and not verify_password(PASSWORD, decoy)
    assert [store.sign_ins.begin("sup", NOW) for _ in range(5)] == [None] * 5
    assert store.sign_ins.failures("sup") == 5
    locked = NOW + timedelta(minutes=15)
    assert store.sign_ins.begin("sup", NOW) == locked  # the sixth attempt is not even checked
    assert store.sign_ins.begin("sup", NOW + timedelta(minutes=5)) == locked  # never lowered
    assert store.sign_ins.locked_until("sup", NOW + timedelta(minutes=16)) is None
    assert store.sign_ins.begin("sup", NOW + timedelta(minutes=16)) is None
    store.sign_ins.succeeded("sup")
    assert store.sign_ins.failures("sup") == 0


def test_housekeeping_forgets_expired_sessions_and_stale_counts() -> None:
    store = accounts()
    user = store.add_user("sup", "supervisor", PASSWORD)
    store.start_session(user, NOW, "")
    store.sign_ins.begin("someone", NOW)
    store.purge(NOW + timedelta(hours=1))
    assert (store.db.table("sessions").count, store.sign_ins.failures("someone")) == (1, 1)
    store.purge(NOW + timedelta(days=2))
    assert (store.db.table("sessions").count, store.sign_ins.failures("someone")) == (0, 0)


def test_sessions_end_on_sign_out_password_change_and_disable() -> None:
    store = accounts()
    user = store.add_user("sup", "supervisor", PASSWORD)
    cookie, session = store.start_session(user, NOW, "10.0.0.1")
    assert session.id_hash == token_digest(cookie) and cookie not in session.id_hash
    assert store.session(cookie, NOW) == session
    assert store.session(cookie, NOW + timedelta(hours=13)) is None  # expired
    store.end_session(session.id_hash)
    assert store.session(cookie, NOW) is None

    cookie, _ = store.start_session(user, NOW, "")
    store.set_password("sup", PASSWORD + " again")
    assert store.session(cookie, NOW) is None

    cookie, session = store.start_session(user, NOW, "")
    assert store.valid_owners({session.id_hash, "unknown"}, NOW) == {session.id_hash}
    store.disable_user("sup")
    assert store.session(cookie, NOW) is None
    assert store.valid_owners({session.id_hash}, NOW) == set()


def test_api_tokens_are_stored_hashed_and_revocable() -> None:
    store = accounts()
    user = store.add_user("sup", "supervisor", PASSWORD)
    token = store.tokens.create("sup", "wallboard script")
    stored = [row["token_hash"] for row in store.db.query("SELECT token_hash FROM api_tokens")]
    assert stored == [token_digest(token)]
    assert store.tokens.user(token) == user
    assert store.valid_owners({f"token:{token_digest(token)}"}, NOW) == {
        f"token:{token_digest(token)}"
    }
    assert store.tokens.revoke(token) and not store.tokens.revoke(token)
    assert store.tokens.user(token) is None
    other = store.tokens.create("sup")
    store.disable_user("sup")
    assert store.tokens.user(other) is None
    with pytest.raises(AuthError, match="disabled"):
        store.tokens.create("sup")
