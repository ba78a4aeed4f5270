"""Extension ranges as people write them: "40-59, 70, 80-82"."""

from __future__ import annotations

MAX_RANGE = 10_000


def parse_ranges(spec: str) -> tuple[str, ...]:
    """ "40-59, 70" -> ("40", ..., "59", "70"), in order, without repeats; ValueError naming
    the part that is not an extension or a sensible range."""
    extensions: list[str] = []
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        first, last = first.strip(), last.strip()
        if not (first.isascii() and first.isdigit() and (not dash or last.isdigit())):
            raise ValueError(f"{part!r} is not an extension or a range")
        if last and (int(last) < int(first) or int(last) - int(first) > MAX_RANGE):
            raise ValueError(f"{part!r} is not a sensible range")
        extensions.extend(str(n) for n in range(int(first), int(last or first) + 1))
    return tuple(dict.fromkeys(extensions))


def format_ranges(extensions: tuple[str, ...] | list[str]) -> str:
    """("40", ..., "49", "52") -> "40-49, 52": runs of consecutive numbers as ranges."""
    parts: list[str] = []
    run: list[str] = []
    for extension in extensions:
        follows = run and str(int(run[-1]) + 1) == extension
        if run and not follows:
            parts.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run = []
        run.append(extension)
    if run:
        parts.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)
