"""The `dashboard` command's users, API tokens and wall-screen links."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from dashboard.audit import AuditLog
from dashboard.auth import Accounts, AuthError
from dashboard.grid import Grid
from dashboard.kiosk import Kiosks
from dashboard.settings import Settings
from dashboard.signins import Throttle, name_key
from dashboard.store import Store


def kiosks(settings: Settings) -> Kiosks:
    accounts = accounts_of(settings)
    return Kiosks(accounts.db, accounts)


def cmd_kiosk_create(args: argparse.Namespace, settings: Settings) -> int:
    groups = Grid(settings).groups
    if args.group and args.group not in groups:
        print(
            f"no such group: {args.group!r} (groups: {', '.join(groups) or 'none'})",
            file=sys.stderr,
        )
        return 2
    link, token = kiosks(settings).create(args.label, "command line", args.group)
    print(f"/kiosk/{token}")
    print(f"(open http://<dashboard>/kiosk/... once on the {link.label} screen)", file=sys.stderr)
    return 0


def cmd_kiosk_list(args: argparse.Namespace, settings: Settings) -> int:
    for link in kiosks(settings).links():
        state = f"revoked {link.revoked_at:%Y-%m-%d}" if link.revoked_at else "active"
        print(f"{link.id:>4}  {link.label:<30} {link.group or 'every group':<16} {state}")
    return 0


def cmd_kiosk_revoke(args: argparse.Namespace, settings: Settings) -> int:
    link = kiosks(settings).revoke(args.id)
    print(f"revoked the link for {link.label}; that screen is signed out")
    return 0


def accounts_of(settings: Settings) -> Accounts:
    return Accounts(Store.open(settings.db_path).db, kdf_n=settings.password_kdf_n)


def _new_password(given: str | None) -> str:
    if given is not None:
        return given
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise AuthError("the two passwords differ")
    return first


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    user = accounts_of(settings).add_user(
        args.name, args.role, _new_password(args.password), args.extension
    )
    extension = f", extension {user.extension}" if user.extension else ""
    print(f"added {user.name} ({user.role}{extension})")
    return 0


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    for user in accounts_of(settings).users():
        state = "disabled" if user.disabled else "active"
        print(f"{user.name:<24} {user.role:<11} {user.extension or '-':<8} {state}")
    return 0


def cmd_user_passwd(args: argparse.Namespace, settings: Settings) -> int:
    user = accounts_of(settings).set_password(args.name, _new_password(args.password))
    print(f"password changed for {user.name}; their sessions and API tokens are ended")
    return 0


def cmd_user_disable(args: argparse.Namespace, settings: Settings) -> int:
    user = accounts_of(settings).disable_user(args.name)
    print(f"disabled {user.name}; their sessions and tokens are ended")
    return 0


def cmd_user_unlock(args: argparse.Namespace, settings: Settings) -> int:
    """Forget a name's failed sign-ins and locks at every address (with --address, also
    that address's own), each in the audit log."""
    accounts = accounts_of(settings)
    address = args.address.strip() if args.address else None
    cleared = accounts.sign_ins.unlock(args.name, address)
    audit = AuditLog(accounts.db)
    now = datetime.now(UTC)
    for row in cleared:
        said = _cleared(row)
        audit.record(
            now,
            "command line",
            "sign-in unlock",
            target=row.target,
            remote=row.address,
            detail=said,
        )
        print(said)
    if not cleared:
        print(f"nothing to clear: no failed sign-ins nor locks for {name_key(args.name)}")
    return 0


def _cleared(row: Throttle) -> str:
    where = f"{row.target} from {row.address or 'an unknown address'}"
    if row.locked_until is not None:
        return f"unlocked {where} (it was locked until {row.locked_until.isoformat()})"
    plural = "" if row.failures == 1 else "s"
    return f"cleared {row.failures} failed sign-in{plural} of {where}"


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    print(accounts_of(settings).tokens.create(args.name, args.label))
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    accounts = accounts_of(settings)
    if args.user:
        print(f"revoked {accounts.tokens.revoke_all_of(args.user)} token(s) of {args.user}")
        return 0
    if not args.token:
        raise AuthError("give the token to revoke, or --user NAME")
    if not accounts.tokens.revoke(args.token):
        raise AuthError("no such active token")
    print("revoked")
    return 0
