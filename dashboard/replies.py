"""What the PBX answered, in words a supervisor understands (the raw reply kept for asking).

The PBX's replies are free text (synapse-api.md §1): "Success: originating 1796114950.152981
in DLPN_all" says nothing a person needs that the dashboard does not already know, and its
errors are terse ("Extension not registered"). A toast says what is happening from what was
asked; what the PBX said, word for word, is shown on demand. A 2xx whose words say it failed
(as PHP scripts in front of Asterisk often answer) is told as the failure it is. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dashboard.errors import Refusal
from dashboard.fragments import group_digits


@dataclass(frozen=True)
class Asked:
    """A command as the person meant it."""

    action: str  # "originate", "transfer", "hangup", "close"
    number: str = ""  # originate: the number dialled; transfer out: where to; hangup: the caller
    extension: str = ""  # originate: the extension that dials; transfer: the one it goes to
    name: str = ""  # who `number` is (a contact), or for a transfer to an extension its user


@dataclass(frozen=True)
class Told:
    ok: bool
    words: str  # for the person who clicked
    raw: str = ""  # what the PBX (or the link to it) said, for whoever asks


def accepted(asked: Asked, reply: str) -> Told:
    """A command the PBX took (a 2xx)."""
    failure = None if re.search(r"\bsuccess", reply.lower()) else _failure_words(asked, reply)
    if failure is not None:
        return Told(False, failure, reply)
    return Told(True, doing(asked), reply)


def refused(asked: Asked, error: Refusal, pbx_status: int = 0, pbx_reply: str = "") -> Told:
    """A command refused, by the dashboard's rules or by (or on the way to) the PBX.
    `pbx_status` and `pbx_reply`: what the PBX answered when it refused."""
    if error.error == "pbx_unreachable":
        return Told(
            False,
            "Could not reach the PBX, so nothing was done: it may be down or off the network.",
            error.detail,
        )
    if error.error == "pbx_timeout":
        return Told(
            False,
            "The PBX did not answer in time. The command may still have worked: watch the"
            " board before trying again.",
            error.detail,
        )
    if error.error == "pbx_refused":
        return Told(False, _refusal_words(asked, pbx_status, pbx_reply), error.detail)
    if error.error == "unknown_extension":
        return Told(
            False,
            f"There is no extension {asked.extension} here. Choose one from the list that"
            " opens in the Transfer box: it shows who is free.",
        )
    return Told(False, _sentence(error.detail))


def doing(asked: Asked) -> str:
    """What was done, said as done: the PBX took the command (what it does next, the board
    shows). A name goes with a number wherever it is known."""
    who = _who(asked.number, asked.name)
    if asked.action == "originate":
        return f"Call to {who} from extension {asked.extension} sent to the PBX"
    if asked.action == "transfer":
        if asked.extension:
            named = f" ({asked.name})" if asked.name else ""
            return f"Transfer to extension {asked.extension}{named} sent to the PBX"
        return f"Transfer to {who} sent to the PBX"
    if asked.action == "hangup":
        return f"Hang-up of the call with {who} sent to the PBX" if who else HANGUP_SENT
    if asked.action == "close":
        return "Call closed: marked as closed by hand"
    return "The PBX took the command"


HANGUP_SENT = "Hang-up sent to the PBX"


def _who(number: str, name: str) -> str:
    """A number as people read it, after the name it belongs to when one is known."""
    grouped = group_digits(number)
    if name and grouped:
        return f"{name} ({grouped})"
    return name or grouped


def _refusal_words(asked: Asked, status: int, reply: str) -> str:
    found = _failure_words(asked, reply)
    if found is not None:
        return found
    if status == 403:
        return ALLOWED_IP
    if status == 404:
        return (
            f"The PBX has no command page at the address configured (HTTP 404):"
            f" check SYNAPSE_URL. {NOTHING_DONE}"
        )
    if status >= 500:
        return f"The PBX failed with an error of its own (HTTP {status}). {NOTHING_DONE}"
    return f"The PBX refused the command (HTTP {status}). {NOTHING_DONE}"


NOTHING_DONE = "Nothing was done."
ALLOWED_IP = (
    "The PBX does not take commands from this dashboard: add this server's address to the"
    " PBX's Allowed IP List."
)


def _failure_words(asked: Asked, reply: str) -> str | None:
    """The words for a reply that says the command failed; None if it does not say so."""
    text = reply.lower()
    extension = asked.extension or "the extension"
    if re.search(r"not registered|unregistered|unavailable|offline", text):
        if asked.action == "transfer":
            return (
                f"Extension {extension} is not registered: its phone is off or signed out."
                " The call stays where it is."
            )
        return (
            f"Extension {extension} is not registered: its phone is off, unplugged or"
            " signed out. No call was placed."
        )
    if re.search(r"no such channel|channel (not found|does not exist)", text):
        return "That call is no longer on the PBX: it has probably just ended."
    if re.search(r"allowed ip|access denied|permission denied", text):
        return ALLOWED_IP
    if "busy" in text:
        return f"Extension {extension} is busy. {NOTHING_DONE}"
    if re.search(r"invalid (extension|number)", text):
        return f"The PBX would not take that extension or number. {NOTHING_DONE}"
    if re.search(r"missing|unknown action|not valid json|invalid request", text):
        return (
            "The PBX did not understand the command: check that SYNAPSE_URL points at a"
            f" Synapse PBX. {NOTHING_DONE}"
        )
    if re.search(r"\bfail|unsuccessful", text):
        return _could_not(asked)
    if re.match(r"\s*error", text):
        return f"The PBX answered that the command failed. {NOTHING_DONE}"
    return None


def _could_not(asked: Asked) -> str:
    if asked.action == "originate":
        return (
            f"The PBX could not place the call from extension {asked.extension}:"
            " is its phone free and signed in?"
        )
    if asked.action == "transfer":
        return "The PBX could not transfer the call: it stays where it is."
    if asked.action == "hangup":
        return "The PBX could not hang up the call."
    return f"The PBX answered that the command failed. {NOTHING_DONE}"


def _sentence(detail: str) -> str:
    """The dashboard's own refusals are sentences already, written to follow "refused:"."""
    detail = detail.strip()
    return detail[:1].upper() + detail[1:] if detail else "The command was refused."
