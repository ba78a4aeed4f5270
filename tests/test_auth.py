from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils

from dashboard.auth import Accounts, AuthError, Role, User
from dashboard.passwords import hash_password, token_digest, verify_password
from dashboard.signins import Attempt, Limits, Lock, Scope, Throttle, address_key

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
A, B = "203.0.113.5", "198.51.100.7"  # two addresses signing in


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


def test_credentials_and_the_lock_after_repeated_failures_at_one_address() -> None:
    store = accounts()
    user = store.add_user("sup", "supervisor", PASSWORD)
    found, stored = store.credentials("SUP")
    assert found == user and verify_password(PASSWORD, stored)
    unknown, decoy = store.credentials("nobody")
    assert unknown is None and not verify_password(PASSWORD, decoy)
    sign_ins = store.sign_ins
    assert [sign_ins.begin("SUP", A, NOW) for _ in range(5)] == [
        Attempt(None, (), failures) for failures in range(1, 6)
    ]
    lock = Lock(Scope.NAME, "sup", A, NOW + timedelta(minutes=15), 5)
    assert sign_ins.begin("sup", A, NOW) == Attempt(lock, (lock,), 6)  # not even checked
    later = NOW + timedelta(minutes=5)
    still = Lock(Scope.NAME, "sup", A, lock.until, 0)
    assert sign_ins.begin("sup", A, later) == Attempt(still, (), 0)  # never extended
    assert sign_ins.begin("sup", B, later) == Attempt(None, (), 1)  # only at that address
    assert sign_ins.rows() == [
        Throttle(Scope.ADDRESS, "", B, 1, None, later),
        Throttle(Scope.ADDRESS, "", A, 6, None, NOW),
        Throttle(Scope.NAME, "sup", B, 1, None, later),
        Throttle(Scope.NAME, "sup", A, 0, lock.until, NOW),
    ]
    sign_ins.succeeded("sup", B)  # clears that name there; the address takes its attempt back
    assert sign_ins.rows() == [
        Throttle(Scope.ADDRESS, "", B, 0, None, later),
        Throttle(Scope.ADDRESS, "", A, 6, None, NOW),
        Throttle(Scope.NAME, "sup", A, 0, lock.until, NOW),
    ]
    assert sign_ins.begin("sup", A, NOW + timedelta(minutes=16)) == Attempt(None, (), 1)


def test_one_address_trying_many_names_is_refused_for_every_name() -> None:
    sign_ins = accounts().sign_ins
    assert [sign_ins.begin(f"user{n}", A, NOW) for n in range(20)] == [
        Attempt(None, (), failures) for failures in range(1, 21)
    ]
    lock = Lock(Scope.ADDRESS, "", A, NOW + timedelta(minutes=15), 20)
    assert sign_ins.begin("sup", A, NOW) == Attempt(lock, (lock,), 21)
    still = Lock(Scope.ADDRESS, "", A, lock.until, 0)
    assert sign_ins.begin("user0", A, NOW) == Attempt(still, (), 0)
    assert sign_ins.begin("sup", B, NOW) == Attempt(None, (), 1)


def test_a_hosts_ipv6_addresses_count_as_one_and_each_address_in_one_spelling() -> None:
    sign_ins = accounts().sign_ins
    tries = [sign_ins.begin(f"user{n}", f"2001:db8:1:2::{n:x}", NOW) for n in range(21)]
    lock = Lock(Scope.ADDRESS, "", "2001:db8:1:2::/64", NOW + timedelta(minutes=15), 20)
    assert tries[-1] == Attempt(lock, (lock,), 21)
    assert sign_ins.begin("sup", "2001:db8:1:3::1", NOW) == Attempt(None, (), 1)  # another /64
    assert sign_ins.begin("sup", "::ffff:10.0.0.9", NOW) == Attempt(None, (), 1)
    assert sign_ins.begin("sup", "10.0.0.9", NOW) == Attempt(None, (), 2)
    assert address_key("2001:0DB8:0001:0002:0000:0000:0000:0009") == "2001:db8:1:2::/64"
    assert address_key("testclient") == "testclient"


def test_a_count_is_forgotten_once_idle_as_long_as_a_lock() -> None:
    limits = Limits(per_name=2, per_address=3, lock=timedelta(minutes=10))
    sign_ins = Accounts(accounts().db, kdf_n=2**10, sign_in_limits=limits).sign_ins
    assert sign_ins.begin("sup", A, NOW) == Attempt(None, (), 1)
    assert sign_ins.begin("sup", A, NOW + timedelta(minutes=9)) == Attempt(None, (), 2)
    assert sign_ins.begin("sup", A, NOW + timedelta(minutes=19)) == Attempt(None, (), 1)
    assert sign_ins.begin("sup", A, NOW + timedelta(minutes=19)) == Attempt(None, (), 2)
    lock = Lock(Scope.NAME, "sup", A, NOW + timedelta(minutes=29), 2)
    assert sign_ins.begin("sup", A, NOW + timedelta(minutes=19)) == Attempt(lock, (lock,), 3)


def test_unlocking_a_name_clears_it_at_every_address() -> None:
    sign_ins = accounts().sign_ins
    for _ in range(6):
        sign_ins.begin("sup", A, NOW)
    sign_ins.begin("sup", B, NOW)
    sign_ins.begin("other", A, NOW)
    until = NOW + timedelta(minutes=15)
    assert sign_ins.unlock(" SUP ") == [
        Throttle(Scope.NAME, "sup", B, 1, None, NOW),
        Throttle(Scope.NAME, "sup", A, 0, until, NOW),
    ]
    assert sign_ins.unlock("sup") == []
    assert sign_ins.rows() == [
        Throttle(Scope.ADDRESS, "", B, 1, None, NOW),
        Throttle(Scope.ADDRESS, "", A, 7, None, NOW),
        Throttle(Scope.NAME, "other", A, 1, None, NOW),
    ]
    assert sign_ins.unlock("sup", A) == [Throttle(Scope.ADDRESS, "", A, 7, None, NOW)]


def test_the_older_per_name_count_is_dropped() -> None:
    db = sqlite_utils.Database(sqlite3.connect(":memory:", isolation_level=None))
    db.table("sign_in_failures").insert({"name": "sup", "failures": 5, "locked_until": None})
    Accounts(db, kdf_n=2**10)
    assert "sign_in_failures" not in db.table_names()


def test_housekeeping_forgets_expired_sessions_and_stale_counts() -> None:
    store = accounts()
    user = store.add_user("sup", "supervisor", PASSWORD)
    store.start_session(user, NOW, "")
    for _ in range(6):
        store.sign_ins.begin("sup", A, NOW)  # locked until NOW + 15 min
    store.sign_ins.begin("someone", B, NOW + timedelta(minutes=10))
    store.purge(NOW + timedelta(minutes=14))
    assert (store.db.table("sessions").count, len(store.sign_ins.rows())) == (1, 4)
    store.purge(NOW + timedelta(minutes=16))
    assert store.sign_ins.rows() == [
        Throttle(Scope.ADDRESS, "", B, 1, None, NOW + timedelta(minutes=10)),
        Throttle(Scope.NAME, "someone", B, 1, None, NOW + timedelta(minutes=10)),
    ]
    store.purge(NOW + timedelta(days=2))
    assert (store.db.table("sessions").count, store.sign_ins.rows()) == (0, [])


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
