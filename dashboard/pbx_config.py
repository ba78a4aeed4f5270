"""The PBXs the dashboard serves, from `DASHBOARD_CONFIG` (a TOML file) or the `SYNAPSE_*`
variables (one PBX).

    DASHBOARD_EXTENSIONS = "40-59,70-79"     # any setting, named as in the environment

    [[pbx]]
    name = "head-office"
    url = "http://192.168.1.51"
    extensions = "40-59"
    timezone = "Asia/Kolkata"

A mistake stops start-up with the file's name and the line: an unknown key, a duplicate name
or host, a bad range, two PBXs owning the same extension.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dashboard.events import valid_host
from dashboard.extension_ranges import parse_ranges

DEFAULT_CONTEXT = "DLPN_all"
DEFAULT_CHANNEL_TEMPLATE = "SIP/{extension}"
PBX_KEYS = (
    "name",
    "url",
    "host",
    "context",
    "channel_template",
    "timezone",
    "extensions",
    "event_token",
    "event_allow",
)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}")


class ConfigError(ValueError):
    """The configuration file says something the dashboard cannot run with."""


@dataclass(frozen=True)
class PBXConfig:
    name: str
    url: str
    host: str  # the `asteriskhost` its events carry
    context: str = DEFAULT_CONTEXT
    channel_template: str = DEFAULT_CHANNEL_TEMPLATE
    timezone: str = "UTC"
    extensions: tuple[str, ...] = ()  # the extensions it owns; () with one PBX: every one
    event_token: str = ""
    event_allow: tuple[str, ...] = ()
    owned: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "owned", frozenset(self.extensions))

    @functools.cached_property
    def allow_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(entry, strict=False) for entry in self.event_allow]

    def owns(self, extension: str) -> bool:
        """Without a list of extensions (one PBX alone), every extension is its own."""
        return not self.extensions or extension in self.owned


def pbx_problems(pbx: PBXConfig) -> list[tuple[str, str]]:
    """What is wrong with one PBX's description: (key, message) pairs."""
    problems = []
    if not NAME.fullmatch(pbx.name):
        problems.append(("name", "a name is 1 to 40 letters, digits, spaces, . _ or -"))
    parts = urlsplit(pbx.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(("url", f"{pbx.url!r} is not an http(s) URL with a host"))
    if not pbx.host:
        problems.append(("host", "say which asteriskhost its events carry"))
    elif not valid_host(pbx.host):
        problems.append(("host", f"{pbx.host!r} is no host name or IP address an event can carry"))
    try:
        ZoneInfo(pbx.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(("timezone", f"unknown time zone {pbx.timezone!r}"))
    template_problem = channel_template_problem(pbx.channel_template)
    if template_problem:
        problems.append(("channel_template", template_problem))
    for entry in pbx.event_allow:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(("event_allow", f"{entry!r} is not an IP address or CIDR"))
    return problems


def channel_template_problem(template: str) -> str:
    try:
        channel = template.format(extension="\x00")
    except (KeyError, IndexError, ValueError) as exc:
        return (
            f"it must hold {{extension}} and nothing else in braces, e.g. SIP/{{extension}}: {exc}"
        )
    if "\x00" not in channel:
        return "it must hold {extension}, e.g. SIP/{extension}"
    return ""


@dataclass(frozen=True)
class ConfigFile:
    settings: dict[str, str]  # the other settings, as environment values
    pbxs: tuple[PBXConfig, ...]


def read_config(path: Path, setting_names: Collection[str]) -> ConfigFile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"DASHBOARD_CONFIG: cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    lines = Lines(text)

    def fail(message: str, table: int | None = None, key: str | None = None) -> ConfigError:
        return ConfigError(f"{path}:{lines.of(table, key)}: {message}")

    settings = _settings(data, setting_names, fail)
    tables = data.get("pbx", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise fail("pbx must be tables written [[pbx]]", key="pbx")
    pbxs = tuple(_pbx(index, table, fail) for index, table in enumerate(tables))
    _check_together(pbxs, fail)
    return ConfigFile(settings, pbxs)


class Fail(Protocol):
    def __call__(
        self, message: str, table: int | None = None, key: str | None = None
    ) -> ConfigError: ...


def _settings(data: Mapping[str, Any], names: Collection[str], fail: Fail) -> dict[str, str]:
    settings = {}
    for key, value in data.items():
        if key == "pbx":
            continue
        if key not in names:
            raise fail(
                f"unknown setting {key!r} (settings are named as in the environment)", key=key
            )
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            value = "on" if value else "off"
        elif not isinstance(value, str | int | float):
            raise fail(f"{key} must be a string, a number or a list", key=key)
        settings[key] = str(value)
    return settings


def _pbx(index: int, table: Mapping[str, Any], fail: Fail) -> PBXConfig:
    for key in table:
        if key not in PBX_KEYS:
            raise fail(f"unknown key {key!r} in [[pbx]] (known: {', '.join(PBX_KEYS)})", index, key)
    for key in ("name", "url"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise fail(f"a [[pbx]] needs a {key}", index, key if key in table else None)

    def text(key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise fail(f"{key} must be a string", index, key)
        return value.strip()

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise fail(f"{key} must be a string or a list of strings", index, key)
        return tuple(item.strip() for item in items if item.strip())

    url = text("url", "").rstrip("/")
    ranges = ",".join(strings("extensions"))
    try:
        extensions = parse_ranges(ranges)
    except ValueError as exc:
        raise fail(f"extensions: {exc}", index, "extensions") from exc
    pbx = PBXConfig(
        name=text("name", ""),
        url=url,
        host=(text("host", "") or (urlsplit(url).hostname or "")).lower(),
        context=text("context", DEFAULT_CONTEXT),
        channel_template=text("channel_template", DEFAULT_CHANNEL_TEMPLATE),
        timezone=text("timezone", "UTC"),
        extensions=extensions,
        event_token=text("event_token", ""),
        event_allow=strings("event_allow"),
    )
    for key, message in pbx_problems(pbx):
        raise fail(f"{key}: {message}", index, key)
    return pbx


def _check_together(pbxs: tuple[PBXConfig, ...], fail: Fail) -> None:
    seen_names: dict[str, int] = {}
    seen_hosts: dict[str, int] = {}
    owner: dict[str, int] = {}
    for index, pbx in enumerate(pbxs):
        for key, value, seen in (
            ("name", pbx.name.lower(), seen_names),
            ("host", pbx.host.lower(), seen_hosts),
        ):
            if value in seen:
                other = pbxs[seen[value]].name
                raise fail(f"{key} {value!r} is already that of the PBX {other!r}", index, key)
            seen[value] = index
        for extension in pbx.extensions:
            if extension in owner:
                other = pbxs[owner[extension]].name
                raise fail(
                    f"extension {extension} is already owned by the PBX {other!r}",
                    index,
                    "extensions",
                )
            owner[extension] = index
    tokens: dict[str, int] = {}
    for index, pbx in enumerate(pbxs):
        if pbx.event_token and pbx.event_token in tokens:
            other = pbxs[tokens[pbx.event_token]].name
            raise fail(
                f"event_token is also the PBX {other!r}'s: each PBX needs its own, or either"
                " could send events as the other",
                index,
                "event_token",
            )
        tokens[pbx.event_token] = index
    if len(pbxs) > 1:
        for index, pbx in enumerate(pbxs):
            if not pbx.extensions:
                raise fail(f"with several PBXs, say which extensions {pbx.name!r} owns", index)


class Lines:
    """Where things are in the file, for messages: tomllib tells values, not lines."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [i for i, line in enumerate(self.lines) if line.lstrip().startswith("[")]
        self.tables = [i for i in self.headers if re.match(r"\s*\[\[\s*pbx\s*\]\]", self.lines[i])]

    def of(self, table: int | None, key: str | None) -> int:
        """The 1-based line of `key` in the table'th [[pbx]] (None: the top level)."""
        start = self.tables[table] if table is not None and table < len(self.tables) else -1
        later = [i for i in self.headers if i > start]
        end = later[0] if later else len(self.lines)
        if key is not None:
            pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
            for i in range(start + 1, end):
                if pattern.match(self.lines[i]):
                    return i + 1
        return start + 1 if start >= 0 else 1
