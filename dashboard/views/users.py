"""/admin/users: users listed, added and changed by admins, each change in the audit log
(refusals too, with why) and felt at once by the user's open boards."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from dashboard.audience import CloseCode
from dashboard.auth import AuthError, Role, User
from dashboard.security import client_ip, current_auth, end_revoked_viewers, require
from dashboard.state import Parts, parts
from dashboard.user_admin import Conflict, Done, NotFound, UserAdmin
from dashboard.users import agents_on_no_pbx
from dashboard.views.pages import page

FIELD_LIMIT = 2048  # characters of any one field (past a password's own limit, to refuse it)
ACTIONS = ("change", "password", "disable", "enable", "unlock")


@require(Role.ADMIN)
async def users_page(request: Request) -> Response:
    """The list, and (POST) a new user."""
    if request.method != "POST":
        return _users_page(request)
    form = await request.form()
    name, role, extension = _field(form, "name"), _field(form, "role"), _field(form, "extension")
    detail = f"role {role or '-'}, extension {extension or '-'}"
    return _act(
        request,
        "user add",
        name,
        lambda admin: _added(admin.add(name, role, extension, _field(form, "password")), detail),
    )


@require(Role.ADMIN)
async def change_user(request: Request) -> Response:
    """One action on one user: `action` is change (role and extension), password, disable,
    enable or unlock."""
    name = request.path_params["name"]
    form = await request.form()
    action = _field(form, "action")
    if action not in ACTIONS:

        def unknown(admin: UserAdmin) -> tuple[Done, str]:
            raise AuthError(f"unknown action {action[:40]!r}")

        return _act(request, "user action", name, unknown)  # refused, and audited as such
    state = parts(request)
    before = state.accounts.find_user(name)

    def run(admin: UserAdmin) -> tuple[Done, str]:
        if action == "change":
            role, extension = _field(form, "role"), _field(form, "extension")
            done = admin.change(name, role, extension)
            return done, _change_detail(before, done.user)
        if action == "password":
            done = admin.reset_password(name, _field(form, "password"))
            return done, "generated" if done.password else "given"
        if action == "disable":
            return admin.disable(name), ""
        if action == "enable":
            return admin.enable(name), ""
        done, cleared = admin.unlock(name)
        return done, "; ".join(f"{row.target} from {row.address or '?'}" for row in cleared)

    audited = {"change": "user change", "password": "user password", "unlock": "sign-in unlock"}
    return _act(request, audited.get(action, f"user {action}"), name, run)


def _act(
    request: Request,
    action: str,
    target: str,
    run: Callable[[UserAdmin], tuple[Done, str]],
) -> Response:
    """Run a change; audit it (or its refusal); answer the page with what happened."""
    state = parts(request)
    auth = current_auth(request)
    assert auth is not None
    admin = UserAdmin(state.accounts, state.audit, state.settings.extension_digits, state.kiosks)
    now = state.clock()
    remote = client_ip(request, state.settings.trusted_proxy_networks)
    target = target.strip().lower()[:64]
    try:
        done, detail = run(admin)
    except AuthError as refused:
        status = (
            404 if isinstance(refused, NotFound) else 409 if isinstance(refused, Conflict) else 422
        )
        message = _sentence(str(refused))
        state.audit.record(
            now,
            auth.user.name,
            action,
            result="refused",
            target=target,
            remote=remote,
            detail=message,
        )
        return _users_page(request, message, status_code=status)
    state.audit.record(
        now, auth.user.name, action, target=done.user.name, remote=remote, detail=detail
    )
    _felt_at_once(state, done.user, action)
    return _users_page(request, done.message, ok=True, password=done.password, for_user=done.user)


def _felt_at_once(state: Parts, user: User, action: str) -> None:
    """Open boards follow: ended credentials close their sockets, a new role or extension
    makes them reconnect to what it may see, a new extension's name goes on the grid."""
    now = state.clock()
    end_revoked_viewers(state.hub, state.accounts, now)
    if action == "user change":
        owners = state.accounts.owners_of(user.id)
        state.hub.evict_where(
            lambda viewer: viewer.owner in owners, close_code=CloseCode.SERVICE_RESTART
        )
    if state.ingestor.refresh_names():
        state.publisher.grid()


def _added(done: Done, detail: str) -> tuple[Done, str]:
    return done, f"{detail}, password {'generated' if done.password else 'given'}"


def _change_detail(before: User | None, after: User) -> str:
    if before is None:
        return ""
    return (
        f"role {before.role} -> {after.role}, extension {before.extension or '-'}"
        f" -> {after.extension or '-'}"
    )


def _users_page(
    request: Request,
    message: str = "",
    *,
    ok: bool = False,
    status_code: int = 200,
    password: str = "",
    for_user: User | None = None,
) -> Response:
    state = parts(request)
    admin = UserAdmin(state.accounts, state.audit, state.settings.extension_digits, state.kiosks)
    rows = admin.rows(state.clock())
    lost = agents_on_no_pbx((row.user for row in rows), state.settings.agent_scope)
    return page(
        request,
        "users.html",
        status_code=status_code,
        rows=rows,
        on_no_pbx={user.name for user in lost},
        roles=[role.value for role in Role],
        message=message,
        ok=ok,
        password=password,
        for_user=for_user,
        tz=state.settings.timezone,
        now=state.clock(),
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value[:FIELD_LIMIT] if isinstance(value, str) else ""


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
