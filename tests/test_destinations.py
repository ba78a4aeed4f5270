"""Where the PBX may be asked to ring: Asterisk patterns, number plans, blocked prefixes."""

from __future__ import annotations

import pytest

from dashboard.destinations import (
    DestinationError,
    DialPattern,
    DialRules,
    External,
    Internal,
    NumberPlan,
    PatternError,
    TransferRules,
)
from dashboard.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("pattern", "matching", "not_matching"),
    [
        ("_9XXXXXXXXX", ["9876543210", "9000000000"], ["987654321", "98765432101", "8876543210"]),
        ("_0[1-9]X.", ["0221", "02212345678"], ["022", "0021234", "1221"]),
        ("_NXXNXXXXXX", ["2125550100"], ["1125550100", "2121550100"]),
        ("_ZX", ["10", "99"], ["09", "100"]),
        ("_[13-5]X", ["10", "30", "59"], ["20", "60"]),
        ("_1-NXX-NXX-XXXX", ["12125550100"], ["2125550100"]),  # dashes are for reading
        ("_+91X!", ["+919", "+919876543210"], ["+44", "919876"]),
        ("_x", ["5"], ["55"]),  # letters in either case
        ("112", ["112"], ["1120", "_112"]),  # without _: one number exactly
    ],
)
def test_asterisk_patterns_match_as_the_dial_plan_would(
    pattern: str, matching: list[str], not_matching: list[str]
) -> None:
    compiled = DialPattern.parse(pattern)
    assert {number: compiled.matches(number) for number in matching + not_matching} == {
        **dict.fromkeys(matching, True),
        **dict.fromkeys(not_matching, False),
    }


@pytest.mark.parametrize(
    "bad",
    ["", "_", "_9[1-", "_9[]", "_9[a-c]", "_9[5-1]", "_9.X", "_9!1", "_9Y", "9X", "+", "_9 9"],
)
def test_a_pattern_asterisk_would_not_read_is_refused(bad: str) -> None:
    with pytest.raises(PatternError):
        DialPattern.parse(bad)


INDIA = NumberPlan.for_country("91")
NORTH_AMERICA = NumberPlan.for_country("1")
UNSAID = NumberPlan.for_country("")


def test_the_usual_codes_follow_the_country() -> None:
    assert [NumberPlan.for_country(code) for code in ("91", "1", "")] == [
        NumberPlan("91", "0", ("00",)),
        NumberPlan("1", "1", ("011",)),
        NumberPlan("", "0", ("00", "011")),
    ]
    assert NumberPlan.for_country("44", "9", ["010"]) == NumberPlan("44", "9", ("010",))


@pytest.mark.parametrize(
    ("plan", "number", "readings"),
    [
        (INDIA, "+919876543210", {"919876543210"}),
        (INDIA, "00919876543210", {"919876543210"}),
        (INDIA, "09876543210", {"919876543210"}),
        (INDIA, "9876543210", {"919876543210"}),
        (INDIA, "01123456789", {"911123456789", "23456789"}),  # Delhi, or (cautiously) abroad
        (NORTH_AMERICA, "19005550100", {"19005550100"}),
        (NORTH_AMERICA, "9005550100", {"19005550100"}),
        (NORTH_AMERICA, "011442079460000", {"442079460000"}),
        (UNSAID, "01119005550100", {"19005550100"}),
        (UNSAID, "19005550100", {"19005550100"}),  # cautious: it may be international
    ],
)
def test_a_number_reads_the_same_however_it_is_written(
    plan: NumberPlan, number: str, readings: set[str]
) -> None:
    assert plan.readings(number) == readings


@pytest.mark.parametrize(
    ("plan", "blocked", "allowed"),
    [
        (
            UNSAID,
            ["+19005550100", "0019005550100", "01119005550100", "19005550100"],
            ["9876543210", "+442079460000"],
        ),
        (
            NORTH_AMERICA,
            ["+19005550100", "01119005550100", "19005550100", "9005550100", "0019005550100"],
            ["2125550100", "0119195550100"],
        ),
        (
            INDIA,
            ["+19005550100", "0019005550100", "01119005550"],  # 011 is taken as abroad too
            ["19005550100", "01123456789", "9876543210"],  # at home 1900 is national
        ),
    ],
)
def test_a_blocked_prefix_blocks_every_way_of_writing_it(
    plan: NumberPlan, blocked: list[str], allowed: list[str]
) -> None:
    rules = DialRules(plan, blocked_prefixes=("+1900",))
    assert {number: rules.blocks("+1900", number) for number in blocked + allowed} == {
        **dict.fromkeys(blocked, True),
        **dict.fromkeys(allowed, False),
    }


def test_blocking_an_access_code_blocks_every_other_country() -> None:
    rules = DialRules(INDIA, blocked_prefixes=("00",))
    numbers = ["+442079460000", "00442079460000", "+919876543210", "09876543210", "9876543210"]
    assert [rules.blocks("00", number) for number in numbers] == [True, True, False, False, False]
    with pytest.raises(DestinationError) as refused:
        rules.number("+44 20 7946 0000")
    assert (refused.value.status, refused.value.error, refused.value.detail) == (
        422,
        "blocked_number",
        "calls to numbers starting with 00 are not allowed",
    )


def test_a_number_blocked_nationally_is_blocked_internationally() -> None:
    uk = DialRules(NumberPlan.for_country("44"), blocked_prefixes=("09",))
    numbers = ["09012345678", "+449012345678", "00449012345678", "02079460000"]
    assert [uk.blocks("09", number) for number in numbers] == [True, True, True, False]


TRANSFERS = TransferRules(
    DialRules(INDIA, blocked_prefixes=("00",)), internal=(DialPattern.parse("_8XX"),)
)


@pytest.mark.parametrize(
    ("target", "known", "outcome"),
    [
        ("46", {"46"}, Internal("46")),
        ("812", set(), Internal("812")),
        ("9876543210", {"46"}, External("9876543210")),
        ("+91 98765 43210", set(), External("+919876543210")),
        ("1234567", set(), External("1234567")),  # longer than an extension: a number
    ],
)
def test_a_transfer_target_is_an_extension_or_a_number(
    target: str, known: set[str], outcome: Internal | External
) -> None:
    assert TRANSFERS.target(target, known) == outcome


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("", "bad_extension"),
        ("4x6", "bad_extension"),
        ("+", "bad_extension"),
        ("999", "unknown_extension"),
        ("123456", "unknown_extension"),
    ],
)
def test_a_transfer_target_that_is_neither_is_refused(target: str, error: str) -> None:
    with pytest.raises(DestinationError) as refused:
        TRANSFERS.target(target, {"46"})
    assert refused.value.error == error


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DASHBOARD_DIAL_ALLOW": "_9XX,_9[1-"}, "DASHBOARD_DIAL_ALLOW: _9[1-: a [ without its ]"),
        ({"DASHBOARD_TRANSFER_INTERNAL": "_8Q"}, "DASHBOARD_TRANSFER_INTERNAL: _8Q: 'Q' has no"),
        ({"DASHBOARD_BLOCKED_PREFIXES": "00,+1-900"}, "DASHBOARD_BLOCKED_PREFIXES: '+1-900'"),
        ({"SYNAPSE_COUNTRY_CODE": "0091"}, "SYNAPSE_COUNTRY_CODE: a country code is 1 to 3"),
        ({"SYNAPSE_INTERNATIONAL_PREFIXES": "00,+"}, "SYNAPSE_INTERNATIONAL_PREFIXES: an access"),
        ({"DASHBOARD_TRANSFER_OUT": "agents"}, "DASHBOARD_TRANSFER_OUT must be nobody, "),
        ({"DASHBOARD_EXTENSION_DIGITS": "11"}, "DASHBOARD_EXTENSION_DIGITS must be 1 to 10"),
    ],
)
def test_bad_destination_settings_stop_start_up(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(environ)
    assert str(refused.value).startswith(message)


def test_destination_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "SYNAPSE_COUNTRY_CODE": "+91",
            "DASHBOARD_DIAL_ALLOW": "_9XXXXXXXXX, _0[1-9]X.",
            "DASHBOARD_BLOCKED_PREFIXES": "00,+1900",
            "DASHBOARD_TRANSFER_OUT": "Everyone",
        }
    )
    assert settings.dial_rules == DialRules(
        INDIA,
        ("00", "+1900"),
        (DialPattern.parse("_9XXXXXXXXX"), DialPattern.parse("_0[1-9]X.")),
    )
    assert settings.transfer_out == "everyone"
