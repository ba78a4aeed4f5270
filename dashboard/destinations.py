"""Where a command may make the PBX ring: one policy for originate, callback and transfer.

Whoever can originate or redirect a call can spend the PBX owner's money, so every number
the dashboard asks the PBX to ring passes here: its shape (digits, length), the blocked
prefixes (compared however the number is written: +44, 0044, 01144, or nationally), and, when
set, an allow-list in Asterisk's own pattern syntax. A transfer target is an internal
extension (known to the dashboard, or matching a configured pattern) or else an external
number under exactly those rules. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from dashboard.errors import Refusal

NUMBER_PUNCTUATION = str.maketrans("", "", " -.()/")
WIDE_ACCESS_CODES = ("00", "011")
MAX_EXTENSION_DIGITS = 10


class DestinationError(Refusal):
    """A destination the PBX may not be asked to ring."""


class PatternError(ValueError):
    """A dial pattern that Asterisk would not read either."""


@dataclass(frozen=True)
class DialPattern:
    """An Asterisk extension pattern: `_9XXXXXXXXX`, `_0[1-9]X.`, or a literal number.

    After the leading `_`: X is any digit, Z 1-9, N 2-9, [1-5] or [13-5] one of a set, `.`
    one or more of anything, `!` zero or more; `-` is ignored (as Asterisk does), anything
    else matches itself. Without the `_` the pattern is one exact number.
    """

    text: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> DialPattern:
        text = text.strip()
        if not text.startswith("_"):
            if not text or not re.fullmatch(r"\+?[0-9*#]+", text):
                raise PatternError(f"{text!r} is neither a number nor a pattern starting with _")
            return cls(text, re.compile(re.escape(text)))
        return cls(text, re.compile(_pattern_regex(text[1:])))

    def matches(self, number: str) -> bool:
        return self.regex.fullmatch(number) is not None


def _pattern_regex(body: str) -> str:
    if not body:
        raise PatternError("'_' needs a pattern after it")
    parts: list[str] = []
    position = 0
    while position < len(body):
        char = body[position]
        position += 1
        upper = char.upper()
        if upper in _CLASSES:
            parts.append(_CLASSES[upper])
        elif char == "[":
            end = body.find("]", position)
            if end < 0:
                raise PatternError(f"_{body}: a [ without its ]")
            parts.append(_char_set(body[position:end], body))
            position = end + 1
        elif char == "-":
            continue
        elif char in ".!":
            if position != len(body):
                raise PatternError(f"_{body}: {char} may only end a pattern")
            parts.append(".+" if char == "." else ".*")
        elif char in "0123456789*#+":
            parts.append(re.escape(char))
        else:
            raise PatternError(f"_{body}: {char!r} has no meaning in a dial pattern")
    return "".join(parts)


_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


def _char_set(members: str, body: str) -> str:
    if not members or not re.fullmatch(r"(\d(-\d)?)+", members):
        raise PatternError(f"_{body}: [{members}] should list digits or ranges like [1-5]")
    for first, last in re.findall(r"(\d)-(\d)", members):
        if last < first:
            raise PatternError(f"_{body}: [{first}-{last}] runs backwards")
    return f"[{members}]"


@dataclass(frozen=True)
class NumberPlan:
    """How numbers are written where the PBX is: its country code (empty: not said), the
    national trunk prefix, and the international access codes."""

    country_code: str = ""
    national_prefix: str = "0"
    international_prefixes: tuple[str, ...] = ("00",)

    @classmethod
    def for_country(
        cls, country_code: str, national_prefix: str = "", international: Iterable[str] = ()
    ) -> NumberPlan:
        """The usual codes when not given: North America (1) dials 1 and 011, others 0 and
        00. Without a country, every international access code in wide use counts."""
        access = tuple(international)
        if not country_code:
            return cls("", national_prefix or "0", access or ("00", "011"))
        north_america = country_code == "1"
        return cls(
            country_code,
            national_prefix or ("1" if north_america else "0"),
            access or (("011",) if north_america else ("00",)),
        )

    def international_part(self, number: str) -> str | None:
        """The number after an explicit international access (+, 00, 011): the country
        code first. None when the number is not written internationally."""
        if number.startswith("+"):
            return number[1:]
        for access in sorted(self.international_prefixes, key=len, reverse=True):
            if number.startswith(access):
                return number[len(access) :]
        return None

    def readings(self, number: str) -> set[str]:
        """Every way to read the number as country code + national number. With the country
        known, a national number reads one way; without it, cautiously, its digits may also
        be an international number (so `+1900` blocked also blocks `1900...`). A number that
        starts with an access code in wide use (00, 011) is also read as international even
        where that is not the access code: the trunk might take it so."""
        readings = self.abroad_readings(number)
        if self.international_part(number) is None:
            if self.country_code:
                national = number.removeprefix(self.national_prefix)
                readings.add(self.country_code + national)
            else:
                readings.add(number)
        return readings

    def abroad_readings(self, number: str) -> set[str]:
        """The number read after an access code (its own, or one in wide use)."""
        readings = set()
        international = self.international_part(number)
        if international is not None:
            readings.add(international)
        for access in WIDE_ACCESS_CODES:
            if number.startswith(access):
                readings.add(number[len(access) :])
        return readings

    def is_international(self, number: str) -> bool:
        """Written with an access code, to another country than the PBX's (if known)."""
        part = self.international_part(number)
        if part is None:
            return False
        return not self.country_code or not part.startswith(self.country_code)

    def is_access_code(self, prefix: str) -> bool:
        return prefix == "+" or prefix in self.international_prefixes


@dataclass(frozen=True)
class DialRules:
    """What may be dialled: the shape, the blocked prefixes, the allow-list."""

    plan: NumberPlan
    blocked_prefixes: tuple[str, ...] = ()
    allow: tuple[DialPattern, ...] = ()
    min_digits: int = 3
    max_digits: int = 15

    def number(self, raw: str) -> str:
        """The number to dial, or a DestinationError saying why it may not be."""
        number = raw.strip().translate(NUMBER_PUNCTUATION)
        digits = number.removeprefix("+")
        if not (digits.isascii() and digits.isdigit()):
            raise DestinationError(
                422, "bad_number", "a number is digits, with an optional leading +"
            )
        if not self.min_digits <= len(digits) <= self.max_digits:
            raise DestinationError(
                422, "bad_number", f"a number has {self.min_digits} to {self.max_digits} digits"
            )
        if any(reading.startswith("0") for reading in self.plan.abroad_readings(number)):
            raise DestinationError(
                422, "bad_number", "after + (or 00) comes a country code, which never starts with 0"
            )
        for prefix in self.blocked_prefixes:
            if self.blocks(prefix, number):
                raise DestinationError(
                    422,
                    "blocked_number",
                    f"calls to numbers starting with {prefix} are not allowed",
                )
        if self.allow and not any(pattern.matches(number) for pattern in self.allow):
            raise DestinationError(
                422, "not_allowed_number", f"{number} matches none of the numbers allowed here"
            )
        return number

    def same_destination(self, number: str) -> frozenset[str]:
        """What identifies where a number rings, however it is written."""
        return frozenset(self.plan.readings(number))

    def blocks(self, prefix: str, number: str) -> bool:
        prefix = prefix.translate(NUMBER_PUNCTUATION)
        if number.startswith(prefix):
            return True
        if self.plan.is_access_code(prefix):  # "00" blocked: every international number
            return self.plan.is_international(number)
        targets = self.plan.readings(prefix)
        return any(
            reading.startswith(target)
            for reading in self.plan.readings(number)
            for target in targets
        )


@dataclass(frozen=True)
class Internal:
    extension: str


@dataclass(frozen=True)
class External:
    number: str  # as written: DialRules.number says whether it may be dialled


def extension_number(raw: str | None) -> str:
    extension = (raw or "").strip()
    if not (extension.isascii() and extension.isdigit()) or len(extension) > MAX_EXTENSION_DIGITS:
        raise DestinationError(422, "bad_extension", "an extension is 1 to 10 digits")
    return extension


@dataclass(frozen=True)
class TransferRules:
    """A target of at most `extension_digits` digits is an extension, and must be one the
    dashboard knows or one matching `internal`; anything longer (or with a +) is a number."""

    dial: DialRules
    internal: tuple[DialPattern, ...] = ()
    extension_digits: int = 6

    def target(self, raw: str, known: Collection[str]) -> Internal | External:
        text = raw.strip().translate(NUMBER_PUNCTUATION)
        if not text:
            raise DestinationError(422, "bad_extension", "say where to transfer the call")
        # Only extension-sized targets are extensions, whatever an event called an extension
        # (a PBX may report the number a call went out to as its "extension").
        extension_sized = text.isdigit() and len(text) <= self.extension_digits
        is_known = text in known or any(pattern.matches(text) for pattern in self.internal)
        if is_known and extension_sized:
            return Internal(extension_number(text))
        if not (text.removeprefix("+").isascii() and text.removeprefix("+").isdigit()):
            raise DestinationError(
                422,
                "bad_extension",
                "transfer to an extension or a number: digits, and an optional +",
            )
        if extension_sized:
            raise DestinationError(
                422,
                "unknown_extension",
                f"there is no extension {text} here: transfer to one on the grid",
            )
        return External(text)  # the dialling rules apply once the caller may dial out
