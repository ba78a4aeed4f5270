"""Contacts: names for phone numbers, imported from CSV, matched however a number is written.

Numbers are matched by a key: their digits, keeping the last N (DASHBOARD_PHONE_MATCH_DIGITS,
10 by default), so that +91 98765 43210, 919876543210 and 09876543210 are one number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlite_utils

NUMBER_COLUMNS = ("number", "phone", "mobile", "telephone")
NAME_COLUMNS = ("name", "contact", "full name")
MAX_FIELD = 200


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
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.added} added, {self.updated} updated"
        if self.errors:
            text += f", {len(self.errors)} rows skipped"
        return text


class Contacts:
    def __init__(self, db: sqlite_utils.Database, match_digits: int) -> None:
        self.db = db
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

    def key(self, number: str | None) -> str | None:
        return phone_key(number, self.match_digits)

    def find(self, number: str | None) -> Contact | None:
        key = self.key(number)
        if key is None:
            return None
        row = self.db.execute(
            "SELECT number, name, company, notes FROM contacts WHERE key = ?", [key]
        ).fetchone()
        return _contact(row) if row else None

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
        """Add or update contacts from CSV with a header row (number and name columns, and
        optionally company and notes). Rows that cannot be read are reported, not guessed."""
        result = ImportResult()
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        try:
            columns = {name.strip().lower(): name for name in reader.fieldnames or []}
        except csv.Error as error:
            result.errors.append(f"the first row cannot be read: {error}")
            return result
        number_column = next((columns[c] for c in NUMBER_COLUMNS if c in columns), None)
        name_column = next((columns[c] for c in NAME_COLUMNS if c in columns), None)
        if number_column is None or name_column is None:
            result.errors.append("the first row must name the columns, with 'number' and 'name'")
            return result
        now = datetime.now(UTC).isoformat()
        with self.db.atomic():
            try:
                for line, row in enumerate(reader, start=2):
                    problem = self._import_row(
                        row, number_column, name_column, columns, now, result
                    )
                    if problem:
                        result.errors.append(f"line {line}: {problem}")
            except csv.Error as error:  # a broken quote, a huge field: stop there, say where
                result.errors.append(
                    f"line {reader.line_num}: cannot read the file from here: {error}"
                )
        return result

    def _import_row(
        self,
        row: dict[str, str | None],
        number_column: str,
        name_column: str,
        columns: dict[str, str],
        now: str,
        result: ImportResult,
    ) -> str | None:
        number = clean_number(row.get(number_column) or "")
        name = (row.get(name_column) or "").strip()
        key = self.key(number)
        if key is None:
            return f"{number[:40]!r} is not a phone number"
        if not name:
            return "the name is empty"
        extra = {
            c: (row.get(columns[c]) or "").strip() for c in ("company", "notes") if c in columns
        }
        if any(len(value) > MAX_FIELD for value in (number, name, *extra.values())):
            return f"a value is longer than {MAX_FIELD} characters"
        existed = self.db.execute("SELECT 1 FROM contacts WHERE key = ?", [key]).fetchone()
        self.db.execute(
            "INSERT INTO contacts (key, number, name, company, notes, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET number = excluded.number,"
            " name = excluded.name, company = COALESCE(excluded.company, company),"
            " notes = COALESCE(excluded.notes, notes), updated_at = excluded.updated_at",
            # A column the file does not have (None) leaves what was known of it.
            [key, number, name, extra.get("company"), extra.get("notes"), now],
        )
        if existed:
            result.updated += 1
        else:
            result.added += 1
        return None


def _contact(row: tuple[str, str, str | None, str | None]) -> Contact:
    number, name, company, notes = row
    return Contact(number, name, company or "", notes or "")
