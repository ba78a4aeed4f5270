"""The call pop-up: when an incoming call rings at an agent's extension, who is calling.

Rendered only for the audience of that extension at its PBX (its agents), once per change
however many of their pages are open: the caller's number, the contact's name, how often
and when the number called before (at that extension on its PBX: the calls its agents may
see), and a link to the CRM.
"""

from __future__ import annotations

from urllib.parse import quote

from dashboard.calls import Board, Call
from dashboard.contacts import Contacts
from dashboard.fragments import Fragments, call_dom_id
from dashboard.scope import Scope
from dashboard.settings import Settings
from dashboard.store import Store


class Popups:
    def __init__(self, settings: Settings, store: Store, contacts: Contacts, fragments: Fragments):
        self.settings = settings
        self.store = store
        self.contacts = contacts
        self.fragments = fragments

    def change(self, scope: Scope, before: Call | None, call: Call) -> str:
        """The pop-up's part of the push to an agent's audience (often nothing)."""
        shown_before = before is not None and self.pops_up(before, scope)
        if self.pops_up(call, scope):
            popup = self.render(call, scope)
            if shown_before:
                return popup.replace("<section ", '<section hx-swap-oob="true" ', 1)
            return f'<div hx-swap-oob="afterbegin:#popups">{popup}</div>'
        if shown_before:  # answered elsewhere, transferred away, or over
            return f'<div id="popup-{call_dom_id(call)}" hx-swap-oob="delete"></div>'
        return ""

    def snapshot(self, board: Board, scope: Scope) -> str:
        popups = "".join(self.render(call, scope) for call in self.showing(board, scope))
        return f'<div id="popups" class="popups" hx-swap-oob="true">{popups}</div>'

    def showing(self, board: Board, scope: Scope) -> list[Call]:
        """The calls an agent has a pop-up of now."""
        return [call for call in board.snapshot(scope) if self.pops_up(call, scope)]

    @staticmethod
    def pops_up(call: Call, scope: Scope) -> bool:
        """An incoming call, the agent's (its extension's at its PBX), not over (it stays
        while the agent talks)."""
        return (
            call.is_live
            and call.direction == "incoming"
            and scope.covers(call.host, call.extension)
        )

    def render(self, call: Call, scope: Scope) -> str:
        """The pop-up of `call` for the agent of `scope` (it covers the call): the number's
        calls before are counted among that agent's alone, those it may see."""
        count, last = self.store.number_history(call.number, call, scope)
        return self.fragments.page(
            "partials/popup.html",
            call=call,
            contact=self.contacts.find(call.number),
            previous_calls=count,
            last_call=last,
            crm_url=self.crm_url(call.number),
        )

    def crm_url(self, number: str | None) -> str:
        template = self.settings.crm_url_template
        if not template or not number:
            return ""
        return template.replace("{number}", quote(number, safe=""))
