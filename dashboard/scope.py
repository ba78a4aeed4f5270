"""Whose calls an agent sees: those at its extension on its extension's PBX.

An extension number is one PBX's: with several PBXs, or a host no PBX has (watched only),
extension 70 at another host is someone else's phone. `Settings.agent_scope` says which hosts
an extension's calls come from; every place that picks an agent's calls asks its `Scope`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    extension: str
    # The hosts (as calls carry them) whose calls at `extension` are its agent's. None: any
    # host (the one PBX of the SYNAPSE_* variables owns every host); empty: none at all.
    hosts: frozenset[str] | None = None

    @property
    def nowhere(self) -> bool:
        """No PBX has the extension (there are several, and none lists it): no call is its."""
        return self.hosts is not None and not self.hosts

    def covers(self, host: str, extension: str | None) -> bool:
        """Whether a call from `host` at `extension` is this scope's (host names know no
        case, and a database from before events' hosts were lowercased may hold `PBX-A`)."""
        return extension == self.extension and (
            self.hosts is None or host in self.hosts or host.lower() in self.hosts
        )

    def sql(self, table: str = "") -> tuple[str, list[object]]:
        """The condition on a row of `calls` (named `table`, if given) of being this scope's,
        and its parameters."""
        column = f"{table}." if table else ""
        if self.hosts is None:
            return f"{column}extension = ?", [self.extension]
        if not self.hosts:
            return "0 = 1", []
        marks = ", ".join("?" * len(self.hosts))
        return (
            f"{column}extension = ? AND {column}host COLLATE NOCASE IN ({marks})",
            [self.extension, *sorted(self.hosts)],
        )
