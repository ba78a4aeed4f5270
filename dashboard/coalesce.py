"""Several pushes as one: what a wall screen paced to a frame every half second is sent.

A push is a run of out-of-band fragments (`hx-swap-oob`): elements replacing the element of
their id, removals (`delete`), and wrappers putting their child at the top of a list
(`afterbegin:#live-calls`). Applying pushes one after the other leaves, for each element,
only the effect of its latest fragment; so of several pushes only each element's latest
fragment is kept, in the order of their latest arrival (a list replaced whole, then a row of
it changed, keeps that order). A row added, then changed, is added as it is now; a row
added, then removed, is still removed (the removal of what never came is harmless).
Fragments with no id are kept as they are, in order.

Only markup the dashboard renders is read here: autoescaped, so no `<` or `>` in attribute
values or text.
"""

from __future__ import annotations

import re

TAG = re.compile(r"<!--.*?-->|<(/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*?(/?)>", re.DOTALL)
ID = re.compile(r'\sid="([^"]*)"')
SWAP = re.compile(r'\shx-swap-oob="([^"]*)"')
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip


def top_level(html: str) -> list[str]:
    """The top-level elements of markup, each whole (whitespace between them dropped)."""
    parts: list[str] = []
    depth = 0
    start = 0
    for tag in TAG.finditer(html):
        closing, name, self_closing = tag.group(1), tag.group(2), tag.group(3)
        if not name:  # a comment
            continue
        if closing:
            depth -= 1
            if depth == 0:
                parts.append(html[start : tag.end()])
        elif self_closing or name.lower() in VOID:
            if depth == 0:
                parts.append(tag.group(0))
        else:
            if depth == 0:
                start = tag.start()
            depth += 1
    return parts


def _start_tag(fragment: str) -> str:
    return fragment[: fragment.index(">") + 1]


def _key(fragment: str) -> tuple[str | None, str]:
    """The id of the element a fragment is for, and what it does: "add" (to a list), "delete"
    or "replace"."""
    start = _start_tag(fragment)
    swap = SWAP.search(start)
    how = swap.group(1) if swap is not None else "true"
    if ":" in how:  # a wrapper: its one child is the element
        inner = top_level(fragment[len(start) : fragment.rindex("<")])
        found = ID.search(_start_tag(inner[0])) if len(inner) == 1 else None
        return (found.group(1) if found else None), "add"
    found = ID.search(start)
    return (found.group(1) if found else None), "delete" if how == "delete" else "replace"


def _added_as_now(addition: str, change: str) -> str:
    """An addition's wrapper around the element as a later change shows it."""
    start = _start_tag(addition)
    change_start = _start_tag(change)
    element = SWAP.sub("", change_start, count=1) + change[len(change_start) :]
    return start + element + addition[addition.rindex("<") :]


def coalesce(messages: list[str]) -> str:
    """Pushes, in the order they were published, as one with each element's latest
    fragment."""
    latest: dict[object, tuple[str, str]] = {}  # key -> (fragment, what it does)
    for n, fragment in enumerate(part for message in messages for part in top_level(message)):
        key, does = _key(fragment)
        if key is None:
            latest[n] = (fragment, does)  # unkeyed: kept where it is, never merged
            continue
        earlier = latest.pop(key, None)
        if earlier is not None and earlier[1] == "add" and does == "replace":
            fragment, does = _added_as_now(earlier[0], fragment), "add"
        latest[key] = (fragment, does)
    return "".join(fragment for fragment, _ in latest.values())
