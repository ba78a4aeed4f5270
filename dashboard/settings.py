"""Every configuration value, read once from the environment (or a `.env` file).

This is the only module that reads the environment; everything else receives
a `Settings` object, so tests build one directly.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dashboard.destinations import (
    MAX_EXTENSION_DIGITS,
    DialPattern,
    DialRules,
    NumberPlan,
    PatternError,
    TransferRules,
)
from dashboard.extension_ranges import parse_ranges
from dashboard.pbx_config import ConfigError, PBXConfig, read_config
from dashboard.retention import Keep
from dashboard.scope import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PACKAGE = Path(__file__).resolve().parent
# Installed from a wheel, the templates and static files are inside the package; in a
# checkout, beside it.
ASSETS = PACKAGE if (PACKAGE / "templates").is_dir() else PACKAGE.parent
TRANSFER_OUT = ("nobody", "supervisors", "everyone")
SINGLE_PBX_NAME = "synapse"
RECORDING_PREFIX = re.compile(r"/(?:[A-Za-z0-9._~-]+/)*")


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    db_path: str = "dashboard.db"
    secret_key: str = ""
    synapse_url: str = "http://127.0.0.1:8001"
    synapse_context: str = "DLPN_all"
    synapse_channel_template: str = "SIP/{extension}"
    synapse_timezone: str = "UTC"
    synapse_event_token: str = ""
    synapse_event_allow: tuple[str, ...] = ()
    # Recording links are fetched only from under this folder of the PBX's web server.
    recording_path_prefix: str = "/callrecord/"
    # Proxies whose X-Forwarded-For is believed; Host names and extra WebSocket origins allowed.
    trusted_proxies: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    session_hours: float = 12.0
    # Where `dashboard simulator` sends its events (an environment variable, so that a
    # token in it does not show in the process list).
    simulator_events_url: str = "http://127.0.0.1:8000/synapse/events"
    # Each failed sign-in answers this many seconds later per failure so far (then a lock).
    sign_in_delay_seconds: float = 0.5
    # Failed sign-ins before a name is refused from that address, before an address is
    # refused for every name, and how long either lasts.
    sign_in_name_failures: int = 5
    sign_in_address_failures: int = 20
    sign_in_lock_minutes: float = 15.0
    password_kdf_n: int = 2**15
    # Click-to-call: who may be dialled, and how often.
    dial_min_digits: int = 3
    dial_max_digits: int = 15
    blocked_prefixes: tuple[str, ...] = ()
    # When set, only numbers matching one of these Asterisk patterns may be dialled.
    dial_allow: tuple[str, ...] = ()
    # How numbers are written at the PBX, so that +44, 0044 and (in the UK) 0 compare as one.
    country_code: str = ""
    national_prefix: str = ""  # "": 1 in North America, else 0
    international_prefixes: tuple[str, ...] = ()  # (): 011 in North America, else 00
    originates_per_minute: int = 6  # per user
    originates_in_flight: int = 4  # at once, everyone together
    # Transfers: a target of at most `extension_digits` digits is an extension (one the
    # dashboard knows, or matching `transfer_internal`); longer, it is an external number.
    transfer_internal: tuple[str, ...] = ()
    extension_digits: int = 6
    transfer_out: str = "supervisors"  # who may transfer to external numbers
    transfers_per_minute: int = 20  # per user, to extensions
    # The call pop-up: a link to the CRM ({number} is replaced), and how numbers are matched.
    crm_url_template: str = ""
    # The last N digits identify a number: +91 98765 43210 is 09876543210.
    phone_match_digits: int = 10
    # The extension grid: extensions always shown, and named groups of them.
    extensions: tuple[str, ...] = ()
    extension_groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Thresholds: a call ringing or talking this long turns amber (warn) then red (alert);
    # so do the counters when this many calls ring at once.
    ring_warn_seconds: float = 15.0
    ring_alert_seconds: float = 30.0
    talk_warn_minutes: float = 10.0
    talk_alert_minutes: float = 20.0
    ringing_warn: int = 3
    ringing_alert: int = 6
    alert_sound: bool = False
    # Reports: when a business day starts, in the PBX's time zone ("06:00": a night shift
    # belongs to the day it started).
    day_starts_at: str = "00:00"
    # How long a command may take at the PBX before the person is told it did not answer.
    pbx_timeout_seconds: float = 5.0
    # Calls live with no news this long are looked up in the PBX's CDR; this much longer
    # and still nowhere, they are closed as expired.
    reconcile_after_minutes: float = 30.0
    expire_after_hours: float = 4.0
    # A CDR sync stops waiting for the PBX after this long, and reports what it did not get.
    cdr_sync_seconds: float = 20.0
    # "NORMAL" survives a crash of the dashboard (kill -9); "FULL" also a power cut.
    db_synchronous: str = "NORMAL"
    # An access line in the log for every call event (else a summary a minute): for debugging.
    log_every_event: bool = False
    viewer_queue_size: int = 256
    # A wall screen (/tv) is sent a frame this often at most, holding each element's latest
    # fragment since the last (0: as often as any viewer).
    tv_frame_seconds: float = 0.5
    finished_linger_seconds: float = 8.0
    max_event_bytes: int = 64 * 1024
    # DASHBOARD_CONFIG: the file the PBXs (and maybe other settings) came from.
    config_path: str = ""
    pbx_configs: tuple[PBXConfig, ...] = ()
    # With PBXs in the file, events from any other host are refused, unless this is on:
    # then they are shown, watch-only (no commands).
    allow_unknown_hosts: bool = False
    # Each PBX's API is probed this often (0: never), and every board told when one fails.
    pbx_check_seconds: float = 60.0
    # Days kept (0: for ever): raw events, refused events, the audit log, calls.
    keep_events_days: float = 90.0
    keep_rejected_days: float = 30.0
    keep_audit_days: float = 365.0
    keep_calls_days: float = 0.0
    # Who checkpoints the WAL: "dashboard" (a thread of its own), or "litestream" (which
    # replicates the WAL and must own its checkpoints).
    checkpoints: str = "dashboard"
    templates_dir: Path = field(default=ASSETS / "templates")
    static_dir: Path = field(default=ASSETS / "static")

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.synapse_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"SYNAPSE_TIMEZONE: unknown time zone {self.synapse_timezone!r}"
            ) from exc
        if self.db_synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
            raise SettingsError("DASHBOARD_DB_SYNCHRONOUS must be NORMAL, FULL or EXTRA")
        for name in ("synapse_event_allow", "trusted_proxies"):
            for entry in getattr(self, name):
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError as exc:
                    env_name = (
                        name.upper() if name.startswith("synapse") else "DASHBOARD_" + name.upper()
                    )
                    raise SettingsError(
                        f"{env_name}: {entry!r} is not an IP address or CIDR"
                    ) from exc
        if self.crm_url_template and not self.crm_url_template.startswith(("https://", "http://")):
            raise SettingsError("DASHBOARD_CRM_URL must be an http(s) URL with {number} in it")
        try:
            channel = self.synapse_channel_template.format(extension="\x00")
        except (KeyError, IndexError, ValueError) as exc:
            raise SettingsError(
                "SYNAPSE_CHANNEL_TEMPLATE must hold {extension} and nothing else in braces,"
                f" e.g. SIP/{{extension}}: {exc}"
            ) from exc
        if "\x00" not in channel:
            raise SettingsError(
                "SYNAPSE_CHANNEL_TEMPLATE must hold {extension}, e.g. SIP/{extension}"
            )
        try:
            time.fromisoformat(self.day_starts_at)
        except ValueError as exc:
            raise SettingsError("DASHBOARD_DAY_STARTS_AT must be a time like 06:00") from exc
        if not 0 < self.ring_warn_seconds <= self.ring_alert_seconds:
            raise SettingsError("ring thresholds: 0 < DASHBOARD_RING_WARN_SECONDS <= ..._ALERT_...")
        if not 0 < self.talk_warn_minutes <= self.talk_alert_minutes:
            raise SettingsError("talk thresholds: 0 < DASHBOARD_TALK_WARN_MINUTES <= ..._ALERT_...")
        if not 0 < self.ringing_warn <= self.ringing_alert:
            raise SettingsError("ringing thresholds: 0 < DASHBOARD_RINGING_WARN <= ..._ALERT")
        if not RECORDING_PREFIX.fullmatch(self.recording_path_prefix) or any(
            set(segment) == {"."} for segment in self.recording_path_prefix.split("/")
        ):
            raise SettingsError(
                "SYNAPSE_RECORDING_PREFIX must be a folder path that starts and ends with /, of"
                " letters, digits and . _ ~ - (no empty, . or .. segment), e.g. /callrecord/:"
                f" got {self.recording_path_prefix!r}"
            )
        if not 0 < self.cdr_sync_seconds <= 3600:
            raise SettingsError("DASHBOARD_CDR_SYNC_SECONDS must be more than 0 and at most 3600")
        if self.viewer_queue_size < 1:
            raise SettingsError("DASHBOARD_VIEWER_QUEUE must be at least 1")
        if not 0 <= self.tv_frame_seconds <= 5:
            raise SettingsError(
                f"DASHBOARD_TV_FRAME_SECONDS must be from 0 to 5: got {self.tv_frame_seconds:g}"
            )
        if not 1 <= self.sign_in_name_failures <= self.sign_in_address_failures:
            raise SettingsError(
                "sign-in limits: 1 <= DASHBOARD_SIGNIN_NAME_FAILURES"
                " <= DASHBOARD_SIGNIN_ADDRESS_FAILURES"
            )
        if self.sign_in_lock_minutes <= 0:
            raise SettingsError("DASHBOARD_SIGNIN_LOCK_MINUTES must be more than 0")
        self._check_destinations()
        if self.checkpoints not in ("dashboard", "litestream"):
            raise SettingsError("DASHBOARD_CHECKPOINTS must be dashboard or litestream")

    def _check_destinations(self) -> None:
        for prefix in self.blocked_prefixes:
            if not re.fullmatch(r"\+?[0-9]*", prefix) or prefix in ("", "+0"):
                raise SettingsError(
                    f"DASHBOARD_BLOCKED_PREFIXES: {prefix!r} is not digits with an optional +"
                )
        for name, patterns in (
            ("DASHBOARD_DIAL_ALLOW", self.dial_allow),
            ("DASHBOARD_TRANSFER_INTERNAL", self.transfer_internal),
        ):
            for pattern in patterns:
                try:
                    DialPattern.parse(pattern)
                except PatternError as exc:
                    raise SettingsError(f"{name}: {exc}") from exc
        if self.country_code and not re.fullmatch(r"[1-9][0-9]{0,2}", self.country_code):
            raise SettingsError("SYNAPSE_COUNTRY_CODE: a country code is 1 to 3 digits, e.g. 91")
        for name, codes in (
            ("SYNAPSE_NATIONAL_PREFIX", (self.national_prefix,) if self.national_prefix else ()),
            ("SYNAPSE_INTERNATIONAL_PREFIXES", self.international_prefixes),
        ):
            if any(not re.fullmatch(r"[0-9]{1,4}", code) for code in codes):
                raise SettingsError(f"{name}: an access code is 1 to 4 digits, e.g. 00")
        if self.transfer_out not in TRANSFER_OUT:
            raise SettingsError("DASHBOARD_TRANSFER_OUT must be nobody, supervisors or everyone")
        if not 1 <= self.extension_digits <= MAX_EXTENSION_DIGITS:
            raise SettingsError(f"DASHBOARD_EXTENSION_DIGITS must be 1 to {MAX_EXTENSION_DIGITS}")

    @functools.cached_property
    def dial_rules(self) -> DialRules:
        plan = NumberPlan.for_country(
            self.country_code, self.national_prefix, self.international_prefixes
        )
        allow = tuple(DialPattern.parse(pattern) for pattern in self.dial_allow)
        return DialRules(
            plan, self.blocked_prefixes, allow, self.dial_min_digits, self.dial_max_digits
        )

    @functools.cached_property
    def transfer_rules(self) -> TransferRules:
        internal = tuple(DialPattern.parse(pattern) for pattern in self.transfer_internal)
        return TransferRules(self.dial_rules, internal, self.extension_digits)

    @functools.cached_property
    def event_allow_networks(self) -> list[Network]:
        return [ipaddress.ip_network(entry, strict=False) for entry in self.synapse_event_allow]

    @functools.cached_property
    def trusted_proxy_networks(self) -> list[Network]:
        return [ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies]

    @property
    def day_starts(self) -> time:
        return time.fromisoformat(self.day_starts_at)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.synapse_timezone)

    @functools.cached_property
    def _zones(self) -> dict[str, ZoneInfo]:
        return {pbx.host.lower(): ZoneInfo(pbx.timezone) for pbx in self.pbx_configs}

    def zone_of(self, host: str | None) -> ZoneInfo:
        """The zone a PBX reports its local times in, by the host its events carry (the
        board's own zone for a host no PBX in the file has)."""
        return self._zones.get((host or "").lower()) or self.timezone

    @functools.cached_property
    def _extension_owners(self) -> dict[str, str]:
        """Each extension a PBX in the file lists, and that PBX's host."""
        return {ext: pbx.host.lower() for pbx in self.pbx_configs for ext in pbx.extensions}

    def agent_scope(self, extension: str) -> Scope:
        """The calls of an agent at `extension`: its own at its PBX. The one PBX of the
        SYNAPSE_* variables owns every host its events name; one PBX in the file, its own
        host (another is watched only); with several, the PBX that owns the extension has
        it, and when none does no call is its agent's (until an admin gives it to one)."""
        if not self.pbx_configs:
            return Scope(extension)
        if len(self.pbx_configs) == 1:
            return Scope(extension, frozenset({self.pbx_configs[0].host.lower()}))
        owner = self._extension_owners.get(extension)
        return Scope(extension, frozenset({owner} if owner else ()))

    @functools.cached_property  # read for every call event
    def synapse_host(self) -> str:
        """The PBX's host name, used when an event does not name its `asteriskhost`."""
        return urlsplit(self.synapse_url).hostname or ""

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def keep(self) -> Keep:
        return Keep(
            self.keep_events_days,
            self.keep_rejected_days,
            self.keep_audit_days,
            self.keep_calls_days,
        )

    @functools.cached_property
    def pbxs(self) -> tuple[PBXConfig, ...]:
        """The PBXs served: the configuration file's, or the one the SYNAPSE_* variables
        describe (which owns every extension and every host)."""
        if self.pbx_configs:
            return self.pbx_configs
        only = PBXConfig(
            name=SINGLE_PBX_NAME,
            url=self.synapse_url,
            host=self.synapse_host,
            context=self.synapse_context,
            channel_template=self.synapse_channel_template,
            timezone=self.synapse_timezone,
            event_token=self.synapse_event_token,
            event_allow=self.synapse_event_allow,
        )
        return (only,)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None
    ) -> Settings:
        """The environment (or `.env`) over the `DASHBOARD_CONFIG` file, if one is named."""
        values = dict(read_env_file(env_file or Path(".env")))
        values.update(os.environ if environ is None else environ)
        config_path = values.get("DASHBOARD_CONFIG", "").strip()
        if not config_path:
            return cls.from_values(values)
        try:
            config = read_config(Path(config_path), setting_names())
        except ConfigError as exc:
            raise SettingsError(str(exc)) from exc
        merged = {**config.settings, **values}
        if config.pbxs and not merged.get("SYNAPSE_TIMEZONE", "").strip():
            # The board's days (counters, reports) follow the first PBX's, unless told.
            merged["SYNAPSE_TIMEZONE"] = config.pbxs[0].timezone
        settings = cls.from_values(merged)
        return replace(settings, config_path=config_path, pbx_configs=config.pbxs)

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> Settings:
        def text(name: str, default: str) -> str:
            return values.get(name, default).strip() or default

        def number(name: str, default: float) -> float:
            raw = values.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError as exc:
                raise SettingsError(f"{name}: expected a number, got {raw!r}") from exc
            if not math.isfinite(value) or value < 0:
                raise SettingsError(f"{name}: expected a positive number, got {raw!r}")
            return value

        def items(name: str) -> tuple[str, ...]:
            return tuple(part.strip() for part in values.get(name, "").split(",") if part.strip())

        defaults = cls()
        return cls(
            db_path=text("DASHBOARD_DB", defaults.db_path),
            secret_key=text("DASHBOARD_SECRET_KEY", ""),
            synapse_url=text("SYNAPSE_URL", defaults.synapse_url).rstrip("/"),
            synapse_context=text("SYNAPSE_CONTEXT", defaults.synapse_context),
            synapse_channel_template=text(
                "SYNAPSE_CHANNEL_TEMPLATE", defaults.synapse_channel_template
            ),
            synapse_timezone=text("SYNAPSE_TIMEZONE", defaults.synapse_timezone),
            synapse_event_token=text("SYNAPSE_EVENT_TOKEN", ""),
            synapse_event_allow=items("SYNAPSE_EVENT_ALLOW"),
            recording_path_prefix=text("SYNAPSE_RECORDING_PREFIX", defaults.recording_path_prefix),
            trusted_proxies=items("DASHBOARD_TRUSTED_PROXIES"),
            allowed_hosts=items("DASHBOARD_ALLOWED_HOSTS"),
            allowed_origins=items("DASHBOARD_ALLOWED_ORIGINS"),
            session_hours=number("DASHBOARD_SESSION_HOURS", defaults.session_hours),
            sign_in_name_failures=int(
                number("DASHBOARD_SIGNIN_NAME_FAILURES", defaults.sign_in_name_failures)
            ),
            sign_in_address_failures=int(
                number("DASHBOARD_SIGNIN_ADDRESS_FAILURES", defaults.sign_in_address_failures)
            ),
            sign_in_lock_minutes=number(
                "DASHBOARD_SIGNIN_LOCK_MINUTES", defaults.sign_in_lock_minutes
            ),
            simulator_events_url=text("SIMULATOR_EVENTS_URL", defaults.simulator_events_url),
            blocked_prefixes=items("DASHBOARD_BLOCKED_PREFIXES"),
            dial_allow=items("DASHBOARD_DIAL_ALLOW"),
            country_code=text("SYNAPSE_COUNTRY_CODE", "").removeprefix("+"),
            national_prefix=text("SYNAPSE_NATIONAL_PREFIX", ""),
            international_prefixes=items("SYNAPSE_INTERNATIONAL_PREFIXES"),
            transfer_internal=items("DASHBOARD_TRANSFER_INTERNAL"),
            extension_digits=int(number("DASHBOARD_EXTENSION_DIGITS", defaults.extension_digits)),
            transfer_out=text("DASHBOARD_TRANSFER_OUT", defaults.transfer_out).lower(),
            transfers_per_minute=int(
                number("DASHBOARD_TRANSFERS_PER_MINUTE", defaults.transfers_per_minute)
            ),
            originates_per_minute=int(
                number("DASHBOARD_ORIGINATES_PER_MINUTE", defaults.originates_per_minute)
            ),
            originates_in_flight=int(
                number("DASHBOARD_ORIGINATES_IN_FLIGHT", defaults.originates_in_flight)
            ),
            crm_url_template=text("DASHBOARD_CRM_URL", ""),
            phone_match_digits=int(
                number("DASHBOARD_PHONE_MATCH_DIGITS", defaults.phone_match_digits)
            ),
            extensions=parse_extensions(values.get("DASHBOARD_EXTENSIONS", "")),
            extension_groups=parse_groups(values.get("DASHBOARD_GROUPS", "")),
            ring_warn_seconds=number("DASHBOARD_RING_WARN_SECONDS", defaults.ring_warn_seconds),
            ring_alert_seconds=number("DASHBOARD_RING_ALERT_SECONDS", defaults.ring_alert_seconds),
            talk_warn_minutes=number("DASHBOARD_TALK_WARN_MINUTES", defaults.talk_warn_minutes),
            talk_alert_minutes=number("DASHBOARD_TALK_ALERT_MINUTES", defaults.talk_alert_minutes),
            ringing_warn=int(number("DASHBOARD_RINGING_WARN", defaults.ringing_warn)),
            ringing_alert=int(number("DASHBOARD_RINGING_ALERT", defaults.ringing_alert)),
            reconcile_after_minutes=number(
                "DASHBOARD_RECONCILE_MINUTES", defaults.reconcile_after_minutes
            ),
            expire_after_hours=number("DASHBOARD_EXPIRE_HOURS", defaults.expire_after_hours),
            cdr_sync_seconds=number("DASHBOARD_CDR_SYNC_SECONDS", defaults.cdr_sync_seconds),
            pbx_timeout_seconds=number("SYNAPSE_COMMAND_TIMEOUT", defaults.pbx_timeout_seconds),
            day_starts_at=text("DASHBOARD_DAY_STARTS_AT", defaults.day_starts_at),
            alert_sound=values.get("DASHBOARD_ALERT_SOUND", "").strip().lower()
            in ("1", "yes", "on", "true"),
            db_synchronous=text("DASHBOARD_DB_SYNCHRONOUS", defaults.db_synchronous).upper(),
            viewer_queue_size=int(number("DASHBOARD_VIEWER_QUEUE", defaults.viewer_queue_size)),
            tv_frame_seconds=number("DASHBOARD_TV_FRAME_SECONDS", defaults.tv_frame_seconds),
            finished_linger_seconds=number(
                "DASHBOARD_FINISHED_LINGER", defaults.finished_linger_seconds
            ),
            pbx_check_seconds=number("DASHBOARD_PBX_CHECK_SECONDS", defaults.pbx_check_seconds),
            keep_events_days=number("DASHBOARD_KEEP_EVENTS_DAYS", defaults.keep_events_days),
            keep_rejected_days=number("DASHBOARD_KEEP_REJECTED_DAYS", defaults.keep_rejected_days),
            keep_audit_days=number("DASHBOARD_KEEP_AUDIT_DAYS", defaults.keep_audit_days),
            keep_calls_days=number("DASHBOARD_KEEP_CALLS_DAYS", defaults.keep_calls_days),
            checkpoints=text("DASHBOARD_CHECKPOINTS", defaults.checkpoints).lower(),
            allow_unknown_hosts=values.get("DASHBOARD_ALLOW_UNKNOWN_HOSTS", "").strip().lower()
            in ("1", "yes", "on", "true"),
            log_every_event=values.get("DASHBOARD_LOG_EVERY_EVENT", "").strip().lower()
            in ("1", "yes", "on", "true"),
        )


class _Reading(dict[str, str]):
    """A mapping that remembers every name asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


@functools.cache
def setting_names() -> frozenset[str]:
    """Every environment variable the settings are read from."""
    reading = _Reading()
    Settings.from_values(reading)
    return frozenset(reading.asked)


def parse_extensions(spec: str) -> tuple[str, ...]:
    """ "40-59, 70, 80-82" -> ("40", ..., "59", "70", "80", "81", "82")."""
    try:
        return parse_ranges(spec)
    except ValueError as exc:
        raise SettingsError(f"DASHBOARD_EXTENSIONS: {exc}") from exc


def parse_groups(spec: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """ "Sales: 40-49; Support: 50-59, 70" -> (("Sales", ("40", ...)), ("Support", (...)))."""
    groups = []
    for part in (piece.strip() for piece in spec.split(";")):
        if not part:
            continue
        name, colon, members = part.partition(":")
        if not colon or not name.strip():
            raise SettingsError(f"DASHBOARD_GROUPS: {part!r} is not NAME: EXTENSIONS")
        groups.append((name.strip(), parse_extensions(members)))
    return tuple(groups)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments ignored; optional quotes stripped."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values
