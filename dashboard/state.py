"""What the lifespan opens, typed. Handlers take the parts they need from `parts(request)`
instead of digging through one object for everything."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

import anyio
import httpx
from starlette.requests import HTTPConnection

from dashboard.audit import AuditLog
from dashboard.auth import Accounts
from dashboard.board_settings import BoardSettings
from dashboard.callbacks import Callbacks
from dashboard.cdr import CdrSync
from dashboard.contacts import Contacts
from dashboard.control import Controls
from dashboard.fragments import Fragments
from dashboard.history import History
from dashboard.hub import Hub
from dashboard.ingest import Ingestor
from dashboard.kiosk import Kiosks
from dashboard.live import Live
from dashboard.metrics import Timings
from dashboard.pbxs import PBXs
from dashboard.popup import Popups
from dashboard.publisher import Publisher
from dashboard.reconcile import Reconciler
from dashboard.settings import Settings
from dashboard.store import Store

STATE_KEY = "dashboard"  # the lifespan state's one key (Starlette copies it to every request)


@dataclass
class Parts:
    settings: Settings
    clock: Callable[[], datetime]
    store: Store
    live: Live  # read it; only the ingest road changes it
    publisher: Publisher
    ingestor: Ingestor
    fragments: Fragments
    popups: Popups
    hub: Hub
    timings: Timings
    accounts: Accounts
    kiosks: Kiosks
    history: History
    callbacks: Callbacks
    contacts: Contacts
    audit: AuditLog
    board_settings: BoardSettings  # thresholds and groups, as admins set them
    pbxs: PBXs
    controls: Controls
    cdr: CdrSync
    reconciler: Reconciler
    recordings_client: httpx.AsyncClient
    recording_listens: dict[tuple[int, tuple[str, str]], float]  # (user id, call) -> last audit
    recording_links_refused: Counter[str]  # by cause, for /metrics
    kdf_limiter: anyio.CapacityLimiter

    def today(self) -> date:
        """Today in the PBX's zone."""
        return self.clock().astimezone(self.settings.timezone).date()


def parts(conn: HTTPConnection) -> Parts:
    """The app's parts, from a request or a WebSocket."""
    return cast(Parts, conn.scope["state"][STATE_KEY])
