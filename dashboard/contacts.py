"""Contacts: names for phone numbers, imported from CSV, matched however a number is written.

Numbers are matched by a key: their digits, keeping the last N (DASHBOARD_PHONE_MATCH_DIGITS,
10 by default), so that +91 98765 43210, 919876543210 and 09876543210 are one number.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import sqlite_utils

from dashboard.events import caller_id_name

log = logging.getLogger(__name__)
# Header names as spreadsheets and phone exports write them, matched without case; the first
# one a file has is used.
NUMBER_COLUMNS = (
    "number",
    "phone",
    "mobile",
    "telephone",
    "phone number",
    "mobile number",
    "telephone number",
    "mobile phone",
    "cell",
    "tel",
)
NAME_COLUMNS = ("name", "full name", "contact", "contact name")
DELIMITERS = (",", ";", "\t")
MIN_DIGITS, MAX_DIGITS = 7, 15  # a subscriber number at least; E.164's longest at most
SEPARATORS = frozenset(" -.()/\u00a0")  # as people write numbers: 098765-43210, (022) 2345 6789
MAX_FIELD = 200
MAX_NAME_MATCHES = 50  # contacts a name search looks for calls of


def phone_key(number: str | None, digits: int) -> str | None:
    """The part of a number that identifies it, or None when it has no digits."""
    if not number:
        return None
    only = "".join(ch for ch in number if ch.isascii() and ch.isdigit())
    if digits > 0:
        return only[-digits:] or None
    return only.lstrip("0") or None  # all digits, whatever trunk prefix they were dialled with


def clean_number(text: str) -> str:
    """A number as dialled: its digits, with a leading + kept (spaces, dashes and dots go)."""
    text = text.strip()
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    return ("+" + digits if text.startswith("+") else digits) if digits else text


def number_problem(text: str) -> str | None:
    """Why `text` cannot be a phone number, or None when it can be one."""
    shown = repr(text.strip()[:40])
    body = text.strip().removeprefix("'")  # a spreadsheet's mark for "this is text"
    body = body.removeprefix("+")
    if not body:
        return "the number is empty"
    if any(not (ch.isascii() and ch.isdigit()) and ch not in SEPARATORS for ch in body):
        return f"{shown} is not a phone number (only digits, spaces, dashes and a leading +)"
    count = sum(ch.isdigit() for ch in body)
    if not MIN_DIGITS <= count <= MAX_DIGITS:
        return (
            f"{shown} is not a phone number ({count} digits;"
            f" a phone number has {MIN_DIGITS} to {MAX_DIGITS})"
        )
    return None


def decode_csv(raw: bytes) -> str:
    """A file's text: UTF-8 (with or without a BOM), else the Windows code page Excel writes."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV file, read from its header row: the one of `,`, `;` and a tab
    it has most of outside quotes (a spreadsheet in a comma-decimal locale writes `;`)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            break
        elif ch in counts and not quoted:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _heading(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").replace("_", " ").lower().split())


@dataclass(frozen=True)
class Contact:
    number: str
    name: str
    company: str = ""
    notes: str = ""


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)  # each row not imported, and why
    refused: str = ""  # why the whole file was not imported (none of it was)

    def summary(self) -> str:
        if self.refused:
            return f"nothing, {self.refused}"
        text = f"{self.added} added, {self.updated} updated"
        if self.errors:
            skipped = len(self.errors)
            text += f", {skipped} row{'s' if skipped != 1 else ''} skipped"
        return text


class Contacts:
    """The contacts table, and every contact held in memory by its number's key: a board's
    render looks names up without a query. Imports here reload it; an import by another
    process (the command line) is picked up by `watch`."""

    def __init__(
        self, db: sqlite_utils.Database, match_digits: int, aside: Aside = anyio.to_thread.run_sync
    ) -> None:
        self.db = db
        self.aside = aside  # runs a function of no shared state away from the event loop
        self.match_digits = match_digits
        db.table("contacts").create(
            {
                "key": str,
                "number": str,
                "name": str,
                "company": str,
                "notes": str,
                "updated_at": str,
            },
            pk="key",
            not_null={"number", "name"},
            if_not_exists=True,
        )
        self._by_key: dict[str, Contact] = {}
        self._folded: list[tuple[str, str]] = []  # (name casefolded, key), for name search
        self._seen: tuple[Any, ...] = ()
        # One import or re-index at a time: two finishing out of order would leave the
        # older list in memory, with nothing to say it is stale.
        self._one_at_a_time = asyncio.Lock()
        self.reload()

    def reload(self) -> None:
        self._seen = self._fingerprint()
        self._by_key, self._folded = _indexed(self.db.execute(ALL_CONTACTS).fetchall())

    async def reload_aside(self) -> None:
        """`reload`, with the reading and indexing done in a thread on a connection of its
        own (a big list takes a while: the event loop goes on meanwhile)."""
        async with self._one_at_a_time:
            await self._reload_aside()

    async def _reload_aside(self) -> None:
        path = self.db.conn.execute("PRAGMA database_list").fetchone()[2]
        if not path:  # in memory: no other connection sees it
            self.reload()
            return
        seen = self._fingerprint()
        try:
            self._by_key, self._folded = await self.aside(_read_indexed, path)
        except sqlite3.Error:  # busy, not readable from a second connection: read it here
            log.warning("contacts re-read on the main connection", exc_info=True)
            self.reload()
            return
        self._seen = seen

    def _fingerprint(self) -> tuple[Any, ...]:
        return tuple(self.db.execute("SELECT COUNT(*), MAX(updated_at) FROM contacts").fetchone())

    def reload_if_changed(self) -> bool:
        if self._fingerprint() == self._seen:
            return False
        self.reload()
        return True

    async def watch(self, seconds: float) -> None:
        """Reload when another process has changed the contacts (one small query a time)."""
        while True:
            await asyncio.sleep(seconds)
            try:
                if self._fingerprint() != self._seen:
                    await self.reload_aside()
                    log.info("contacts reloaded: %d", len(self._by_key))
            except Exception:  # the names on the board must outlive one failed look
                log.exception("contacts could not be reloaded")

    def key(self, number: str | None) -> str | None:
        return phone_key(number, self.match_digits)

    def find(self, number: str | None) -> Contact | None:
        key = self.key(number)
        return self._by_key.get(key) if key is not None else None

    def name_of(self, number: str | None, extra: Mapping[str, Any]) -> str | None:
        """The name to show with a call's number: its contact's, else the PBX's caller ID."""
        contact = self.find(number)
        return contact.name if contact else caller_id_name(extra)

    def keys_named(self, text: str, limit: int = MAX_NAME_MATCHES) -> list[str]:
        """The number keys of contacts whose name holds `text` (any case), by name."""
        wanted = " ".join(text.split()).casefold()
        if not wanted:
            return []
        return [key for folded, key in self._folded if wanted in folded][:limit]

    def search(self, text: str = "", limit: int = 200) -> list[Contact]:
        pattern = f"%{text.strip()}%"
        rows = self.db.execute(
            "SELECT number, name, company, notes FROM contacts"
            " WHERE name LIKE ? OR number LIKE ? OR company LIKE ? ORDER BY name LIMIT ?",
            [pattern, pattern, pattern, limit],
        ).fetchall()
        return [_contact(row) for row in rows]

    def count(self) -> int:
        return self.db.table("contacts").count

    def import_csv(self, text: str) -> ImportResult:
        """Add or update contacts from CSV as spreadsheets write it: a header row naming a
        number and a name column (and optionally company and notes), `,` or `;` between
        values, any line ends. A row that cannot be read is reported by its row number (the
        header is row 1), not guessed."""
        rows, result = read_contacts(text, self.key)
        for step in range(0, len(rows), IMPORT_STEP):
            self._write(rows[step : step + IMPORT_STEP], result)
        self.reload()
        return result

    async def import_csv_aside(self, text: str) -> ImportResult:
        """`import_csv` for a request: the file read in a thread, then written a step at a
        time, so that calls, pushes and pages go on while a big list comes in."""
        read: tuple[list[ContactRow], ImportResult] = await self.aside(
            read_contacts, text, self.key
        )
        rows, result = read
        async with self._one_at_a_time:
            for step in range(0, len(rows), IMPORT_STEP):
                self._write(rows[step : step + IMPORT_STEP], result)
                await asyncio.sleep(0)
            await self._reload_aside()
        return result

    def _write(self, rows: list[ContactRow], result: ImportResult) -> None:
        """One step of an import, in one transaction; counts what it added and updated."""
        keys = list(dict.fromkeys(row[0] for row in rows))
        # One parameter, however many keys (SQLite before 3.32 allowed 999).
        known_sql = "SELECT key FROM contacts WHERE key IN (SELECT value FROM json_each(?))"
        known = {key for (key,) in self.db.execute(known_sql, [json.dumps(keys)])}
        with self.db.atomic():
            self.db.conn.executemany(UPSERT_CONTACT, rows)
        for key in keys:
            if key in known:
                result.updated += 1
            else:
                result.added += 1
        result.updated += len(rows) - len(keys)  # a number again in the same step


Aside = Callable[..., Awaitable[Any]]
ContactRow = tuple[str, str, str, str | None, str | None, str]  # as UPSERT_CONTACT binds it
IMPORT_STEP = 2000  # rows written in one transaction, between which the event loop goes on
ALL_CONTACTS = "SELECT key, number, name, company, notes FROM contacts ORDER BY name"
UPSERT_CONTACT = (
    "INSERT INTO contacts (key, number, name, company, notes, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET number = excluded.number,"
    " name = excluded.name, company = COALESCE(excluded.company, company),"
    " notes = COALESCE(excluded.notes, notes), updated_at = excluded.updated_at"
)


def read_contacts(
    text: str, key_of: Callable[[str], str | None]
) -> tuple[list[ContactRow], ImportResult]:
    """The rows of a contacts CSV that can be imported, and (in the result) why the others
    cannot; touches no database."""
    result = ImportResult()
    rows: list[ContactRow] = []
    text = text.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        columns = {_heading(name): name for name in reader.fieldnames or []}
    except csv.Error as error:
        result.refused = f"the first row cannot be read: {error}"
        return rows, result
    number_column = next((columns[c] for c in NUMBER_COLUMNS if c in columns), None)
    name_column = next((columns[c] for c in NAME_COLUMNS if c in columns), None)
    if number_column is None or name_column is None:
        found = ", ".join(repr(name[:40]) for name in list(columns.values())[:10]) or "none"
        result.refused = (
            "the first row must name the columns: a number (Number, Phone, Mobile or"
            f" Telephone) and a name (Name, Full Name or Contact); it has {found}"
        )
        return rows, result
    now = datetime.now(UTC).isoformat()
    try:
        for row_number, row in enumerate(reader, start=2):
            if _blank(row):
                continue  # as spreadsheets leave at the end
            read = _contact_row(row, number_column, name_column, columns, now, key_of)
            if isinstance(read, str):
                result.errors.append(f"row {row_number}: {read}")
            else:
                rows.append(read)
    except csv.Error as error:  # a broken quote, a huge field: stop there, say where
        result.errors.append(f"line {reader.line_num}: cannot read the file from here: {error}")
    return rows, result


def _contact_row(
    row: dict[str, Any],
    number_column: str,
    name_column: str,
    columns: dict[str, str],
    now: str,
    key_of: Callable[[str], str | None],
) -> ContactRow | str:
    """A CSV row as the contacts table takes it, or what is wrong with it."""
    written = row.get(number_column) or ""
    problem = number_problem(written)
    if problem:
        return problem
    number = clean_number(written.strip().removeprefix("'"))
    name = " ".join((row.get(name_column) or "").split())
    key = key_of(number)
    if key is None or not name:
        return "the name is empty"
    extra = {c: (row.get(columns[c]) or "").strip() for c in ("company", "notes") if c in columns}
    if any(len(value) > MAX_FIELD for value in (number, name, *extra.values())):
        return f"a value is longer than {MAX_FIELD} characters"
    # A column the file does not have (None) leaves what was known of it.
    return (key, number, name, extra.get("company"), extra.get("notes"), now)


def _indexed(
    rows: list[tuple[str, str, str, str | None, str | None]],
) -> tuple[dict[str, Contact], list[tuple[str, str]]]:
    """Contacts by key, and (name casefolded, key) for the name search, from ALL_CONTACTS."""
    by_key = {row[0]: _contact(row[1:]) for row in rows}
    return by_key, [(contact.name.casefold(), key) for key, contact in by_key.items()]


def _read_indexed(path: str) -> tuple[dict[str, Contact], list[tuple[str, str]]]:
    uri = Path(path).as_uri() + "?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        return _indexed(conn.execute(ALL_CONTACTS).fetchall())


def _blank(row: dict[str | None, Any]) -> bool:
    """Whether a row has nothing in it (values past the header's come as a list)."""
    values = [v for v in row.values() if isinstance(v, str)]
    values += [x for v in row.values() if isinstance(v, list) for x in v if isinstance(x, str)]
    return not any(value.strip() for value in values)


def _contact(row: tuple[str, str, str | None, str | None]) -> Contact:
    number, name, company, notes = row
    return Contact(number, name, company or "", notes or "")
