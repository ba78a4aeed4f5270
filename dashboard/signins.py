"""Failed sign-ins, counted where they come from, so that an attacker cannot lock anyone else
out: per name *and* source address (after `Limits.per_name` failures that name is refused
from that address only), and per source address across names (after `Limits.per_address`
that address is refused for every name, which stops one address trying many names). A lock
lasts `Limits.lock`; a count is forgotten that long after its last failure.

An attempt is counted before its password is checked, so that guesses sent all at once are
counted too; a success takes its attempt back. An address can hold at most
`per_address + 1` rows before it is refused, and rows are purged once stale, so the table
stays small.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlite_utils

TABLE = "sign_in_throttle"
ANY_NAME = "any name"  # how an address's own count is named to people


class Scope(StrEnum):
    NAME = "name"  # one name, from one address
    ADDRESS = "address"  # every name, from one address


@dataclass(frozen=True)
class Limits:
    per_name: int = 5
    per_address: int = 20
    lock: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Throttle:
    """One row: failures counted for a name at an address (or for the whole address, whose
    name is ""), and the lock they led to, if any."""

    scope: Scope
    name: str
    address: str
    failures: int
    locked_until: datetime | None
    last_at: datetime

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    @property
    def target(self) -> str:
        return self.name if self.scope is Scope.NAME else ANY_NAME


@dataclass(frozen=True)
class Lock:
    scope: Scope
    name: str  # "" for an address's lock
    address: str
    until: datetime
    failures: int  # how many failures led to it (0: not known, it was set before)

    @property
    def target(self) -> str:
        return self.name if self.scope is Scope.NAME else ANY_NAME


@dataclass(frozen=True)
class Attempt:
    """What `SignIns.begin` decided: `refused` is the lock in force (then the password must
    not be checked); `new_locks` the locks this attempt set; `failures` the most counted at
    its name-and-address or its address, this attempt included (for slowing failures down)."""

    refused: Lock | None
    new_locks: tuple[Lock, ...]
    failures: int


def name_key(name: str) -> str:
    return name.strip().lower()


class SignIns:
    def __init__(self, db: sqlite_utils.Database, limits: Limits | None = None) -> None:
        self.db = db
        self.limits = limits or Limits()
        db.table("sign_in_failures").drop(ignore=True)  # the older, per-name-only count
        db.table(TABLE).create(
            {
                "scope": str,
                "name": str,
                "address": str,
                "failures": int,
                "locked_until": str,
                "last_at": str,
            },
            pk=("scope", "name", "address"),
            not_null={"failures", "last_at"},
            if_not_exists=True,
        )

    def begin(self, name: str, address: str, now: datetime) -> Attempt:
        address = address_key(address)
        keys = ((Scope.ADDRESS, "", address), (Scope.NAME, name_key(name), address))
        with self.db.atomic():
            rows = [
                self._current(scope, key_name, key_address, now)
                for scope, key_name, key_address in keys
            ]
            for row in rows:  # the address's lock first: it says more
                if row.locked(now):
                    assert row.locked_until is not None
                    lock = Lock(row.scope, row.name, row.address, row.locked_until, 0)
                    return Attempt(lock, (), row.failures)
            counted = [self._count(row, now) for row in rows]
        new_locks = tuple(lock for _, lock in counted if lock is not None)
        refused = new_locks[0] if new_locks else None
        return Attempt(refused, new_locks, max(failures for failures, _ in counted))

    def _count(self, row: Throttle, now: datetime) -> tuple[int, Lock | None]:
        """Count one more attempt on `row`; past its limit, lock it (and start again at 0)."""
        limit = self.limits.per_address if row.scope is Scope.ADDRESS else self.limits.per_name
        failures = row.failures + 1
        lock = None
        if failures > limit:
            lock = Lock(row.scope, row.name, row.address, now + self.limits.lock, row.failures)
        self.db.execute(
            f"INSERT INTO {TABLE} (scope, name, address, failures, locked_until, last_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (scope, name, address) DO UPDATE SET failures = excluded.failures,"
            " locked_until = excluded.locked_until, last_at = excluded.last_at",
            [
                row.scope.value,
                row.name,
                row.address,
                0 if lock else failures,
                lock.until.isoformat() if lock else None,
                now.isoformat(),
            ],
        )
        return failures, lock

    def succeeded(self, name: str, address: str) -> None:
        """The name's count at that address is cleared; the address's takes its attempt back."""
        address = address_key(address)
        with self.db.atomic():
            self.db.execute(
                f"DELETE FROM {TABLE} WHERE scope = ? AND name = ? AND address = ?",
                [Scope.NAME.value, name_key(name), address],
            )
            self.db.execute(
                f"UPDATE {TABLE} SET failures = MAX(failures - 1, 0)"
                " WHERE scope = ? AND name = '' AND address = ?",
                [Scope.ADDRESS.value, address],
            )

    def unlock(self, name: str, address: str | None = None) -> list[Throttle]:
        """Forget every count and lock of `name`, at every address (and, given `address`,
        that address's own); returns what was forgotten."""
        where = "scope = ? AND name = ?"
        params: list[str] = [Scope.NAME.value, name_key(name)]
        if address is not None:
            where = f"({where}) OR (scope = ? AND name = '' AND address = ?)"
            params += [Scope.ADDRESS.value, address_key(address)]
        with self.db.atomic():
            cleared = self._rows(where, params)
            self.db.execute(f"DELETE FROM {TABLE} WHERE {where}", params)
        return cleared

    def purge(self, now: datetime) -> None:
        """Forget stale counts and ended locks (the table stays small)."""
        self.db.execute(
            f"DELETE FROM {TABLE} WHERE (locked_until IS NULL OR locked_until <= ?)"
            " AND last_at < ?",
            [now.isoformat(), (now - self.limits.lock).isoformat()],
        )

    def rows(self) -> list[Throttle]:
        return self._rows("1 = 1", [])

    def _rows(self, where: str, params: list[str]) -> list[Throttle]:
        return [
            _throttle(row)
            for row in self.db.query(
                f"SELECT * FROM {TABLE} WHERE {where} ORDER BY scope, name, address", params
            )
        ]

    def _current(self, scope: Scope, name: str, address: str, now: datetime) -> Throttle:
        """The row as it stands now: a count idle for `Limits.lock` is forgotten."""
        found = self._rows("scope = ? AND name = ? AND address = ?", [scope.value, name, address])
        row = found[0] if found else Throttle(scope, name, address, 0, None, now)
        if not row.locked(now) and row.last_at <= now - self.limits.lock:
            return Throttle(scope, name, address, 0, None, now)
        return row


def address_key(address: str) -> str:
    """Where failures are counted from: an IPv6 address's /64 (a host commonly has a whole
    /64 to send from, a new address per try), an IPv4 one (mapped or not) as itself, each in
    one spelling; anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _throttle(row: dict[str, Any]) -> Throttle:
    until = row["locked_until"]
    return Throttle(
        Scope(row["scope"]),
        row["name"],
        row["address"],
        int(row["failures"]),
        datetime.fromisoformat(until) if until else None,
        datetime.fromisoformat(row["last_at"]),
    )
