"""`create_app(settings)`: routes, middleware and the lifespan that owns every resource."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from dashboard.audience import wall_frame_interval
from dashboard.audit import AuditLog
from dashboard.auth import Accounts
from dashboard.backup import serving
from dashboard.board_settings import BoardSettings
from dashboard.callbacks import Callbacks
from dashboard.cdr import CdrSync
from dashboard.checkpoints import Checkpointer
from dashboard.coalesce import coalesce
from dashboard.contacts import Contacts
from dashboard.control import Controls
from dashboard.errors import Refusal, internal_error
from dashboard.event_summary import log_summaries
from dashboard.events import redact_secrets
from dashboard.fragments import Fragments, make_environment
from dashboard.history import History
from dashboard.hub import Hub
from dashboard.ingest import Clock, assemble, utc_now
from dashboard.kiosk import Kiosks
from dashboard.metrics import Timings
from dashboard.pbx import Synapse
from dashboard.pbx_watch import PBXWatch
from dashboard.pbxs import PBXs
from dashboard.popup import Popups
from dashboard.reconcile import Reconciler
from dashboard.retention import Retention
from dashboard.security import AuthMiddleware, SecurityHeadersMiddleware, revalidate_viewers
from dashboard.settings import Settings
from dashboard.signins import Limits
from dashboard.state import STATE_KEY, Parts
from dashboard.store import Store
from dashboard.users import agents_on_no_pbx
from dashboard.views import (
    admin,
    api,
    contacts,
    controls,
    events,
    history,
    login,
    missed,
    pbx_status,
    recordings,
    reports,
    search,
    tv,
    users,
    wallboard,
)
from dashboard.views.events import EventsEntrance
from dashboard.views.pages import error_page

log = logging.getLogger(__name__)
HTTP_REASONS = {404: "not_found", 405: "method_not_allowed"}
REVALIDATE_SECONDS = 2.0
HOUSEKEEPING_SECONDS = 600.0
RECONCILE_SECONDS = 60.0
CONTACTS_RELOAD_SECONDS = 10.0  # a command-line import reaches the boards within this
KDF_AT_ONCE = 2  # password checks running at once (each scrypt holds 32 MiB)


def create_app(
    settings: Settings,
    clock: Clock = utc_now,
    pbx_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Parts]]:
        async with contextlib.AsyncExitStack() as stack:
            yield {STATE_KEY: await open_parts(stack, settings, clock, pbx_transport)}

    routes = [
        # First: the PBX's endpoint is matched on every call event.
        Route("/synapse/events", events.synapse_events, methods=["GET", "POST"]),
        Route("/synapse/events/{token}", events.synapse_events, methods=["GET", "POST"]),
        Route("/", wallboard.wallboard),
        WebSocketRoute("/ws", wallboard.live_socket),
        Route("/login", login.login, methods=["GET", "POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/admin/audit", admin.audit_log),
        Route("/admin/kiosks", admin.kiosk_links, methods=["GET", "POST"]),
        Route("/admin/settings", admin.settings_page),
        Route("/admin/settings/thresholds", admin.change_thresholds, methods=["POST"]),
        Route("/admin/settings/groups", admin.change_groups, methods=["POST"]),
        Route("/admin/users", users.users_page, methods=["GET", "POST"]),
        Route("/admin/users/{name}", users.change_user, methods=["POST"]),
        Route("/admin/audit.csv", admin.audit_csv),
        Route("/tv", tv.tv),
        Route("/search", search.search),
        Route("/calls", history.calls_page),
        Route("/calls.csv", history.calls_csv),
        Route("/calls/{uniqueid}", history.call_page),
        Route("/api/calls", history.calls_api),
        Route("/cdr/sync", history.cdr_sync, methods=["POST"]),
        Route("/missed", missed.missed_page),
        Route("/missed/done", missed.mark_done, methods=["POST"]),
        Route("/reports", reports.reports_page),
        Route("/reports.csv", reports.reports_csv),
        Route("/kiosk/{token}", tv.kiosk, methods=["GET", "POST"], name="kiosk"),
        Route("/contacts", contacts.contacts_page),
        Route("/contacts/import", contacts.import_contacts, methods=["POST"]),
        Route("/api/calls/active", api.active_calls),
        Route("/api/originate", controls.originate, methods=["POST"]),
        Route("/api/calls/{uniqueid}/hangup", controls.hangup, methods=["POST"]),
        Route("/api/calls/{uniqueid}/transfer", controls.transfer, methods=["POST"]),
        Route("/api/calls/{uniqueid}/transfer-targets", controls.transfer_targets),
        Route("/api/calls/{uniqueid}/close", controls.close, methods=["POST"]),
        Route("/api/calls/{uniqueid}", api.call_detail),
        Route("/api/pbxs", pbx_status.pbxs_api),
        Route("/admin/pbxs", pbx_status.pbxs_page),
        Route("/recordings/{uniqueid}", recordings.recording),
        Route("/healthz", api.healthz),
        Route("/metrics", api.metrics),
        Mount("/static", StaticFiles(directory=settings.static_dir), name="static"),
    ]
    middleware = [Middleware(SecurityHeadersMiddleware)]
    if settings.allowed_hosts:
        middleware.append(
            Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
        )
    middleware.append(Middleware(AuthMiddleware, clock=clock, refuse=error_page))
    return Dashboard(
        settings.allowed_hosts,
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={Refusal: refused, HTTPException: http_error, Exception: server_error},
    )


class Dashboard(Starlette):
    """Starlette, with the PBX's endpoint answered before everything else, Starlette's own
    error middleware included (see EventsEntrance)."""

    def __init__(self, allowed_hosts: Sequence[str], **options: Any) -> None:
        self.allowed_hosts = allowed_hosts
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        return EventsEntrance(super().build_middleware_stack(), self.allowed_hosts)


async def open_parts(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    clock: Clock,
    pbx_transport: httpx.AsyncBaseTransport | None,
) -> Parts:
    """Every resource, each closed by `stack` (in reverse order) even if a later one fails
    to open."""
    if settings.db_path != ":memory:":
        stack.enter_context(serving(settings.db_path))  # `dashboard restore` waits for it
    store = Store.open(settings.db_path, settings.db_synchronous, settings.phone_match_digits)
    stack.callback(store.close)
    if settings.checkpoints == "dashboard":
        checkpointer = Checkpointer(settings.db_path)
        checkpointer.start()
        stack.push_async_callback(asyncio.to_thread, checkpointer.stop)  # one may be under way
    # Never inside a commit: the checkpointer's thread does them, or Litestream does.
    store.db.execute("PRAGMA wal_autocheckpoint = 0")
    pbx_client = await stack.enter_async_context(Synapse.make_client(pbx_transport))
    recordings_client = await stack.enter_async_context(
        httpx.AsyncClient(timeout=httpx.Timeout(30, connect=2), follow_redirects=False)
    )
    timings = Timings()
    hub = Hub(
        settings.viewer_queue_size,
        timings.fanout.observe,
        paced=wall_frame_interval(settings.tv_frame_seconds),
        coalesce=coalesce,
    )
    stack.callback(hub.close_all)
    board_settings = BoardSettings(store.db, settings)  # thresholds and groups, as admins set them
    thresholds = board_settings.thresholds()
    several = len(settings.pbxs) > 1
    pbx_names = {pbx.host: pbx.name for pbx in settings.pbxs} if several else {}
    contacts = Contacts(store.db, settings.phone_match_digits)
    fragments = Fragments(
        make_environment(
            settings.templates_dir, settings.timezone, thresholds, pbx_names, contacts.name_of
        )
    )
    popups = Popups(settings, store, contacts, fragments)
    accounts = Accounts(
        store.db,
        kdf_n=settings.password_kdf_n,
        session_hours=settings.session_hours,
        sign_in_limits=Limits(
            per_name=settings.sign_in_name_failures,
            per_address=settings.sign_in_address_failures,
            lock=timedelta(minutes=settings.sign_in_lock_minutes),
        ),
    )
    warn_of_agents_on_no_pbx(settings, accounts)
    ingestor = assemble(
        settings, store, hub, fragments, clock, popups, timings, accounts.extension_names
    )
    stack.callback(ingestor.publisher.close)
    board_settings.apply(fragments.env, ingestor.live.grid)
    audit = AuditLog(store.db)
    pbxs = PBXs.of(settings, pbx_client, clock)
    cdr_sync = CdrSync(ingestor, store, pbxs, settings, clock)
    reconciler = Reconciler(cdr_sync, ingestor)
    parts = Parts(
        settings=settings,
        clock=clock,
        store=store,
        live=ingestor.live,
        publisher=ingestor.publisher,
        ingestor=ingestor,
        fragments=fragments,
        popups=popups,
        hub=hub,
        timings=timings,
        accounts=accounts,
        kiosks=Kiosks(store.db, accounts),
        history=History(store),
        callbacks=Callbacks(store),
        contacts=contacts,
        audit=audit,
        board_settings=board_settings,
        pbxs=pbxs,
        controls=Controls(
            settings,
            pbxs,
            audit,
            clock,
            known_extensions=ingestor.live.known_extensions,
            timings=timings,
            calls_gone=reconciler,
        ),
        cdr=cdr_sync,
        reconciler=reconciler,
        recordings_client=recordings_client,
        recording_listens={},
        recording_links_refused=Counter(),
        kdf_limiter=anyio.CapacityLimiter(KDF_AT_ONCE),
    )
    background = [
        ingestor.run_sweeper(),
        log_summaries(ingestor.tally),
        revalidate_viewers(hub, accounts, clock, REVALIDATE_SECONDS),
        contacts.watch(CONTACTS_RELOAD_SECONDS),
        housekeeping(accounts, Retention(store.db.conn, settings.keep), clock),
        reconciler.run(
            RECONCILE_SECONDS,
            timedelta(minutes=settings.reconcile_after_minutes),
            timedelta(hours=settings.expire_after_hours),
        ),
    ]
    if settings.pbx_check_seconds:
        watch = PBXWatch(pbxs, ingestor.publisher, fragments, clock, cdr_sync, reconciler)
        background.append(watch.run(settings.pbx_check_seconds))
    tasks = [asyncio.create_task(job) for job in background]
    stack.push_async_callback(_cancel, tasks)
    return parts


def warn_of_agents_on_no_pbx(settings: Settings, accounts: Accounts) -> None:
    for agent in agents_on_no_pbx(accounts.users(), settings.agent_scope):
        log.warning(
            "the agent %s has extension %s, which no PBX in %s owns: they see no call until"
            " it is in one PBX's extensions",
            agent.name,
            agent.extension,
            settings.config_path or "DASHBOARD_CONFIG",
        )


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def housekeeping(accounts: Accounts, retention: Retention, clock: Clock) -> None:
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        try:
            accounts.purge(clock())
            purged = await retention.purge(clock())
            if purged:
                log.info("housekeeping: %d rows past their keeping time deleted", purged)
        except Exception:  # housekeeping must outlive any one failure
            log.exception("housekeeping failed")


async def refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return error_page(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    reason = HTTP_REASONS.get(exc.status_code, "bad_request")
    return error_page(request, Refusal(exc.status_code, reason, exc.detail, headers=exc.headers))


async def server_error(request: Request, exc: Exception) -> Response:
    path = redact_secrets(request.url.path)
    log.error("unexpected error on %s %s", request.method, path, exc_info=exc)
    refusal = internal_error()
    try:
        return error_page(request, refusal)
    except Exception:  # the page itself could not be rendered: the JSON says as much
        return refusal.json()
