"""What admins change at /admin/settings: the thresholds' warn/alert seconds and the grid's
extension groups. Kept in the database, so they outlive a restart; until an admin changes
one, the environment's value (settings.py) holds, and "back to the defaults" returns to it.

`BoardSettings.apply` makes them what every board renders with: the templates' thresholds
global and the grid's groups. Pushing the boards again is the caller's (the publisher's).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

import jinja2
import sqlite_utils

from dashboard.extension_ranges import format_ranges, parse_ranges
from dashboard.grid import Grid
from dashboard.settings import Settings
from dashboard.thresholds import ThresholdError, Thresholds

log = logging.getLogger(__name__)
Groups = tuple[tuple[str, tuple[str, ...]], ...]
TABLE = "board_settings"
THRESHOLDS, GROUPS = "thresholds", "groups"
MAX_GROUPS = 50
MAX_GROUP_NAME = 40
MAX_GROUPED = 1000  # extensions across every group: each is a tile on the grid
MAX_GROUPS_TEXT = 20_000  # characters of the form's text: refused past it, never cut


class GroupsError(ValueError):
    """Groups that cannot be; the message says which line and why."""


class BoardSettings:
    def __init__(self, db: sqlite_utils.Database, settings: Settings) -> None:
        self.db = db
        self.defaults = Thresholds.from_settings(settings)
        self.default_groups: Groups = settings.extension_groups
        self.extension_digits = settings.extension_digits
        db.table(TABLE).create(
            {"key": str, "value": str, "changed_at": str, "changed_by": str},
            pk="key",
            not_null={"value"},
            if_not_exists=True,
        )

    def thresholds(self) -> Thresholds:
        stored = self._stored(THRESHOLDS)
        if stored is None:
            return self.defaults
        try:
            if not isinstance(stored, dict):
                raise TypeError("thresholds are an object")
            return self.defaults.with_seconds(**{key: int(stored[key]) for key in SECONDS})
        except (KeyError, TypeError, ValueError):
            log.warning("the stored thresholds are unreadable; the configured ones hold")
            return self.defaults

    def groups(self) -> Groups:
        stored = self._stored(GROUPS)
        if stored is None:
            return self.default_groups
        try:
            return parse_groups(groups_text(stored), self.extension_digits)
        except (TypeError, ValueError):
            log.warning("the stored extension groups are unreadable; the configured ones hold")
            return self.default_groups

    def changed(self, key: str) -> tuple[datetime, str] | None:
        """When and by whom a setting was last changed here (None: the configured one)."""
        rows = list(self.db.query(f"SELECT * FROM {TABLE} WHERE key = ?", [key]))
        if not rows:
            return None
        return datetime.fromisoformat(rows[0]["changed_at"]), rows[0]["changed_by"]

    def save_thresholds(self, thresholds: Thresholds, at: datetime, by: str) -> None:
        self._store(THRESHOLDS, thresholds.seconds(), at, by)

    def save_groups(self, groups: Groups, at: datetime, by: str) -> None:
        self._store(GROUPS, [[name, list(members)] for name, members in groups], at, by)

    def forget(self, key: str) -> bool:
        """Back to the configured value; False when it already was."""
        return self.db.execute(f"DELETE FROM {TABLE} WHERE key = ?", [key]).rowcount > 0

    def apply(self, env: jinja2.Environment, grid: Grid) -> None:
        """Every render from now on uses what is stored (templates read the global each
        render, so pages and pushes alike)."""
        env.globals["thresholds"] = self.thresholds()
        grid.set_groups(self.groups())

    def _stored(self, key: str) -> object:
        rows = list(self.db.query(f"SELECT value FROM {TABLE} WHERE key = ?", [key]))
        return json.loads(rows[0]["value"]) if rows else None

    def _store(self, key: str, value: object, at: datetime, by: str) -> None:
        self.db.execute(
            f"INSERT INTO {TABLE} (key, value, changed_at, changed_by) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " changed_at = excluded.changed_at, changed_by = excluded.changed_by",
            [key, json.dumps(value), at.isoformat(), by],
        )


SECONDS = ("ring_warn", "ring_alert", "talk_warn", "talk_alert")


def thresholds_from_form(current: Thresholds, form: dict[str, str]) -> Thresholds:
    """The four warn/alert seconds from the settings form, each a whole number."""
    values: dict[str, int] = {}
    for key in SECONDS:
        text = form.get(key, "").strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 6):
            label = key.replace("_", " ").replace("ring", "ringing").replace("talk", "talking")
            raise ThresholdError(f"{label}: give a whole number of seconds (got {text!r})")
        values[key] = int(text)
    return current.with_seconds(**values)


def groups_text(groups: object) -> str:
    """Stored groups (name, members) as the form shows them: one `Name: 40-49, 52` a line."""
    if not isinstance(groups, Sequence):
        raise TypeError("groups are a list")
    return "\n".join(
        f"{name}: {format_ranges([str(m) for m in members])}" for name, members in groups
    )


def parse_groups(text: str, extension_digits: int) -> Groups:
    """One group a line, `Name: 40-49, 52`; blank lines skipped. An extension belongs to one
    group at most."""
    if len(text) > MAX_GROUPS_TEXT:
        raise GroupsError(f"at most {MAX_GROUPS_TEXT} characters of groups (got {len(text)})")
    groups: list[tuple[str, tuple[str, ...]]] = []
    group_of: dict[str, str] = {}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_GROUPS:
        raise GroupsError(f"at most {MAX_GROUPS} groups (got {len(lines)})")
    for number, line in enumerate(lines, start=1):
        name, colon, spec = (part.strip() for part in line.partition(":"))
        where = f"line {number} ({name or line!r})"
        if not colon or not name:
            raise GroupsError(f"{where}: write a group as NAME: EXTENSIONS, e.g. Sales: 40-49")
        if len(name) > MAX_GROUP_NAME or not name.isprintable():
            raise GroupsError(f"{where}: a group's name is 1 to {MAX_GROUP_NAME} characters")
        if name.casefold() in (known.casefold() for known, _ in groups):
            raise GroupsError(f"{where}: there is already a group named {name!r}")
        try:
            members = parse_ranges(spec)
        except ValueError as problem:
            raise GroupsError(f"{where}: {problem}") from None
        if not members:
            raise GroupsError(f"{where}: a group needs at least one extension")
        for extension in members:
            if len(extension) > extension_digits:
                raise GroupsError(
                    f"{where}: {extension} is longer than an extension"
                    f" ({extension_digits} digits at most)"
                )
            if extension in group_of:
                raise GroupsError(f"{where}: {extension} is already in {group_of[extension]}")
            group_of[extension] = name
        if len(group_of) > MAX_GROUPED:
            raise GroupsError(f"at most {MAX_GROUPED} extensions in groups, altogether")
        groups.append((name, members))
    return tuple(groups)
