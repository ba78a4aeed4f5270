"""The call pop-up: when an incoming call rings at an agent's extension, who is calling.

Rendered only for the audience of that extension (its agents), once per change however
many of their pages are open: the caller's number, the contact's name, how often and when
the number called before, and a link to the CRM.
"""

from __future__ import annotations

from urllib.parse import quote

from dashboard.calls import Board, Call
from dashboard.contacts import Contacts
from dashboard.fragments import Fragments, call_dom_id
from dashboard.settings import Settings
from dashboard.store import Store


class Popups:
    def __init__(self, settings: Settings, store: Store, contacts: Contacts, fragments: Fragments):
        self.settings = settings
        self.store = store
        self.contacts = contacts
        self.fragments = fragments

    def change(self, extension: str, before: Call | None, call: Call) -> str:
        """The pop-up's part of the push to one extension's audience (often nothing)."""
        shown_before = before is not None and self.pops_up(before, extension)
        if self.pops_up(call, extension):
            popup = self.render(call)
            if shown_before:
                return popup.replace("<section ", '<section hx-swap-oob="true" ', 1)
            return f'<div hx-swap-oob="afterbegin:#popups">{popup}</div>'
        if shown_before:  # answered elsewhere, transferred away, or over
            return f'<div id="popup-{call_dom_id(call)}" hx-swap-oob="delete"></div>'
        return ""

    def snapshot(self, board: Board, extension: str) -> str:
        popups = "".join(
            self.render(call) for call in board.snapshot(extension) if self.pops_up(call, extension)
        )
        return f'<div id="popups" class="popups" hx-swap-oob="true">{popups}</div>'

    @staticmethod
    def pops_up(call: Call, extension: str) -> bool:
        """An incoming call, at this extension, not over (it stays while the agent talks)."""
        return call.is_live and call.direction == "incoming" and call.extension == extension

    def render(self, call: Call) -> str:
        count, last = self.store.number_history(call.number, call)
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
