"""What an office's telephone traffic looks like, for the seeder (seed.py): calls per hour
and weekday, the share of each outcome, talk and ring times' shapes, and caller numbers."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from dashboard.contacts import phone_key

TABLE = 1024  # categorical draws: one index into a table of this size
# Relative number of calls per hour of the day, in the PBX's time zone.
WEEKDAY_HOURS = (
    *(0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.6, 1.8),
    *(5.5, 11.0, 14.0, 14.5, 12.5, 9.0, 12.0, 13.0),
    *(12.0, 9.5, 5.5, 3.0, 1.8, 1.2, 0.8, 0.5),
)
SATURDAY_HOURS = (
    *(0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5),
    *(4.0, 7.0, 8.0, 8.0, 6.5, 4.0, 2.5, 2.0),
    *(1.5, 1.2, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3),
)
SUNDAY_HOURS = (
    *(0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4),
    *(0.8, 1.3, 1.6, 1.6, 1.4, 1.2, 1.1, 1.1),
    *(1.0, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2),
)
# Monday to Sunday: the hour curve and a factor (Mondays are busy, Fridays a little quieter).
DAY_SHAPES = (
    (WEEKDAY_HOURS, 1.08),
    (WEEKDAY_HOURS, 1.0),
    (WEEKDAY_HOURS, 1.0),
    (WEEKDAY_HOURS, 0.98),
    (WEEKDAY_HOURS, 0.93),
    (SATURDAY_HOURS, 1.0),
    (SUNDAY_HOURS, 1.0),
)
HOLIDAY_SHARE = 0.025  # of days, with a tenth of the usual traffic
INCOMING_SHARE = 0.6
OUTGOING_DIALLED_WITH_ZERO = 0.5  # a trunk prefix: "09876543210" is 9876543210 (phone_key)
CALLBACK_SHARE = 0.4  # of missed calls, called back by the same extension
CALLBACK_WITHIN = 2 * 86_400  # seconds: a missed call not called back by then never is
# Outcome -> (disposition as Synapse writes it, as the dashboard stores it).
OUTCOMES = {
    "answered": ("Answered", "answered"),
    "no_answer": ("No Answer", "no_answer"),
    "busy": ("Busy", "busy"),
    "failed": ("Failed", "failed"),
}
# Outcome shares: incoming in office hours, incoming at night or on Sundays, outgoing.
OUTCOME_SHARES = {
    "office": (("answered", 0.77), ("no_answer", 0.16), ("busy", 0.05), ("failed", 0.02)),
    "night": (("answered", 0.35), ("no_answer", 0.55), ("busy", 0.05), ("failed", 0.05)),
    "outgoing": (("answered", 0.66), ("no_answer", 0.22), ("busy", 0.08), ("failed", 0.04)),
}
OFFICE_HOURS = range(8, 20)
LANDLINE_CODES = ("11", "22", "33", "40", "44", "80", "20", "79")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def office_table(weights: Sequence[tuple[Any, float]]) -> list[Any]:
    """A lookup table for categorical draws: table[int(random() * TABLE)]."""
    total = sum(weight for _, weight in weights)
    table: list[Any] = []
    cumulative = 0.0
    for value, weight in weights:
        cumulative += weight
        table.extend([value] * (round(cumulative / total * TABLE) - len(table)))
    return table


def number_pool(rnd: random.Random, size: int, digits: int) -> list[tuple[str, str, str, str]]:
    """Numbers as (as received, its key, as dialled out, its key): mostly mobiles, some
    landlines (an area code and 8 digits), each dialled out with a trunk zero half the time."""
    pool: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    while len(pool) < size:
        if rnd.random() < 0.8:
            number = f"{rnd.randrange(6, 10)}{rnd.randrange(10**9):09d}"
        else:
            number = f"{rnd.choice(LANDLINE_CODES)}{rnd.randrange(2 * 10**7, 10**8):08d}"
        if number in seen:
            continue
        seen.add(number)
        dialled = "0" + number
        pool.append(
            (number, phone_key(number, digits) or "", dialled, phone_key(dialled, digits) or "")
        )
    return pool
