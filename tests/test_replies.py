"""The PBX's replies told in words: whole values compared."""

from __future__ import annotations

import pytest

from dashboard.control import ControlError
from dashboard.destinations import DestinationError
from dashboard.replies import ALLOWED_IP, Asked, Told, accepted, doing, refused

CALL = Asked("originate", "9876543210", "201")
MOVE = Asked("transfer", "46", "46")


@pytest.mark.parametrize(
    ("asked", "reply", "told"),
    [
        (
            CALL,
            "Success: originating 1796114950.152981 in DLPN_all",
            Told(
                True,
                "Call to 98765 43210 from extension 201 sent to the PBX",
                "Success: originating 1796114950.152981 in DLPN_all",
            ),
        ),
        (CALL, "", Told(True, "Call to 98765 43210 from extension 201 sent to the PBX", "")),
        (
            CALL,
            "Originate successfully queued",
            Told(
                True,
                "Call to 98765 43210 from extension 201 sent to the PBX",
                "Originate successfully queued",
            ),
        ),
        (
            CALL,
            "Error: Extension not registered",
            Told(
                False,
                "Extension 201 is not registered: its phone is off, unplugged or signed out. No"
                " call was placed.",
                "Error: Extension not registered",
            ),
        ),
        (
            CALL,
            "Response: Error\r\nMessage: Originate failed",
            Told(
                False,
                "The PBX could not place the call from extension 201: is its phone free and"
                " signed in?",
                "Response: Error\r\nMessage: Originate failed",
            ),
        ),
        (
            MOVE,
            "Success: transferring DAHDI/4-1 to 46 in DLPN_all",
            Told(
                True,
                "Transfer to extension 46 sent to the PBX",
                "Success: transferring DAHDI/4-1 to 46 in DLPN_all",
            ),
        ),
        (
            Asked("transfer", "9876543210"),
            "ok",
            Told(True, "Transfer to 98765 43210 sent to the PBX", "ok"),
        ),
        (
            Asked("hangup", "9876543210"),
            "Success: hanging up SIP/70-0001",
            Told(
                True,
                "Hang-up of the call with 98765 43210 sent to the PBX",
                "Success: hanging up SIP/70-0001",
            ),
        ),
        (Asked("hangup"), "", Told(True, "Hang-up sent to the PBX", "")),
        (Asked("close"), "", Told(True, "Call closed: marked as closed by hand", "")),
        (
            MOVE,
            "Error: extension 46 is busy",
            Told(False, "Extension 46 is busy. Nothing was done.", "Error: extension 46 is busy"),
        ),
        (
            CALL,
            "Originate unsuccessful",
            Told(
                False,
                "The PBX could not place the call from extension 201:"
                " is its phone free and signed in?",
                "Originate unsuccessful",
            ),
        ),
        (
            MOVE,
            "Redirect failed",
            Told(
                False,
                "The PBX could not transfer the call: it stays where it is.",
                "Redirect failed",
            ),
        ),
        (
            Asked("hangup"),
            "Failure",
            Told(False, "The PBX could not hang up the call.", "Failure"),
        ),
        (
            CALL,
            "ERROR something odd",
            Told(
                False,
                "The PBX answered that the command failed. Nothing was done.",
                "ERROR something odd",
            ),
        ),
    ],
)
def test_an_accepted_command_is_told_by_what_was_asked_and_what_the_pbx_said(
    asked: Asked, reply: str, told: Told
) -> None:
    assert accepted(asked, reply) == told


def pbx_refusal(outcome: str, detail: str) -> ControlError:
    return ControlError(502, f"pbx_{outcome}", detail)


@pytest.mark.parametrize(
    ("asked", "status", "reply", "words"),
    [
        (
            MOVE,
            404,
            "Error: no such channel 'DAHDI/4-1'",
            "That call is no longer on the PBX: it has probably just ended.",
        ),
        (CALL, 403, "Access denied: this IP is not in the Allowed IP List", ALLOWED_IP),
        (CALL, 403, "", ALLOWED_IP),
        (
            CALL,
            404,
            "<html>Not Found</html>",
            "The PBX has no command page at the address configured (HTTP 404): check"
            " SYNAPSE_URL. Nothing was done.",
        ),
        (
            CALL,
            500,
            "PHP Fatal error: the PBX is not well",
            "The PBX failed with an error of its own (HTTP 500). Nothing was done.",
        ),
        (
            CALL,
            400,
            "Error: actiondetails is missing",
            "The PBX did not understand the command: check that SYNAPSE_URL points at a Synapse"
            " PBX. Nothing was done.",
        ),
        (CALL, 400, "", "The PBX refused the command (HTTP 400). Nothing was done."),
        (
            MOVE,
            400,
            "Extension not registered",
            "Extension 46 is not registered: its phone is off or signed out. The call stays"
            " where it is.",
        ),
    ],
)
def test_a_pbx_refusal_is_told_in_words_with_the_detail_on_demand(
    asked: Asked, status: int, reply: str, words: str
) -> None:
    detail = f"The PBX at http://pbx refused: HTTP {status} {reply}".strip()
    assert refused(asked, pbx_refusal("refused", detail), status, reply) == Told(
        False, words, detail
    )


def test_a_pbx_out_of_reach_or_slow_is_told_what_it_means() -> None:
    unreachable = pbx_refusal("unreachable", "Could not reach the PBX at http://pbx: refused")
    slow = pbx_refusal("timeout", "The PBX at http://pbx did not answer in 5 s")
    assert [refused(CALL, unreachable), refused(CALL, slow)] == [
        Told(
            False,
            "Could not reach the PBX, so nothing was done: it may be down or off the network.",
            "Could not reach the PBX at http://pbx: refused",
        ),
        Told(
            False,
            "The PBX did not answer in time. The command may still have worked: watch the"
            " board before trying again.",
            "The PBX at http://pbx did not answer in 5 s",
        ),
    ]


def test_the_dashboards_own_refusals_read_as_sentences() -> None:
    unknown = DestinationError(422, "unknown_extension", "there is no extension 999 here")
    twice = ControlError(
        409, "duplicate", "the same command was sent 1 s ago: it is not sent twice"
    )
    assert [refused(Asked("transfer", "999", "999"), unknown), refused(CALL, twice)] == [
        Told(
            False,
            "There is no extension 999 here. Choose one from the list that opens in the"
            " Transfer box: it shows who is free.",
        ),
        Told(False, "The same command was sent 1 s ago: it is not sent twice"),
    ]


def test_an_unknown_action_is_still_told_something() -> None:
    assert doing(Asked("park")) == "The PBX took the command"


@pytest.mark.parametrize(
    ("asked", "words"),
    [
        (
            Asked("originate", "9123456789", "70", "Ravi Kumar"),
            "Call to Ravi Kumar (91234 56789) from extension 70 sent to the PBX",
        ),
        (
            Asked("hangup", "9876501234", name="Meera Shah"),
            "Hang-up of the call with Meera Shah (98765 01234) sent to the PBX",
        ),
        (
            Asked("transfer", extension="46", name="ravi"),
            "Transfer to extension 46 (ravi) sent to the PBX",
        ),
        (
            Asked("transfer", "9123456789", name="Ravi Kumar"),
            "Transfer to Ravi Kumar (91234 56789) sent to the PBX",
        ),
        (Asked("hangup", name="Meera Shah"), "Hang-up of the call with Meera Shah sent to the PBX"),
    ],
)
def test_what_was_done_names_whom_it_was_done_with_when_known(asked: Asked, words: str) -> None:
    assert doing(asked) == words
