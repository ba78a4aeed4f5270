"""One Synapse client per configured PBX, chosen by a call's host or an extension's owner.

A call's commands go to the PBX whose `asteriskhost` the call carries; a call placed from an
extension goes to the PBX that owns the extension (or the one the supervisor names). With
the PBX described by the SYNAPSE_* variables alone, it owns every host and extension.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import httpx

from dashboard.errors import Refusal
from dashboard.pbx import Synapse
from dashboard.pbx_config import PBXConfig
from dashboard.pbx_health import HealthBoard
from dashboard.settings import Settings


class PBXChoiceError(Refusal):
    """No PBX, or more than one, fits what a command names."""


@dataclass(frozen=True)
class PBX:
    config: PBXConfig
    synapse: Synapse

    @property
    def name(self) -> str:
        return self.config.name


class PBXs:
    def __init__(
        self,
        configs: Iterable[PBXConfig],
        client: httpx.AsyncClient,
        *,
        timeout: float,
        hosts_listed: bool,
        clock: Callable[[], datetime],
    ) -> None:
        """`hosts_listed`: the PBXs came from a file, so a host none of them has is
        unknown; otherwise the one PBX owns every host. Every command's outcome goes into
        `health`."""
        configs = list(configs)
        self.health = HealthBoard((config.name, config.host) for config in configs)

        def observer(name: str) -> Callable[[str], None]:
            return lambda error: self.health.note_command(name, clock(), error)

        self.all = [
            PBX(
                config,
                Synapse(
                    config.url,
                    context=config.context,
                    channel_template=config.channel_template,
                    client=client,
                    total_timeout=timeout,
                    observe=observer(config.name),
                ),
            )
            for config in configs
        ]
        self.hosts_listed = hosts_listed
        self._by_host = {pbx.config.host.lower(): pbx for pbx in self.all}
        self._by_name = {pbx.name.lower(): pbx for pbx in self.all}

    @classmethod
    def of(
        cls, settings: Settings, client: httpx.AsyncClient, clock: Callable[[], datetime]
    ) -> PBXs:
        """The PBXs the settings describe (a file's, else the SYNAPSE_* variables' one)."""
        return cls(
            settings.pbxs,
            client,
            timeout=settings.pbx_timeout_seconds,
            hosts_listed=bool(settings.pbx_configs),
            clock=clock,
        )

    @property
    def several(self) -> bool:
        return len(self.all) > 1

    def of_host(self, host: str | None) -> PBX | None:
        """The PBX whose events carry `host`; None when no configured PBX has it."""
        if not self.hosts_listed:
            return self.all[0]
        return self._by_host.get((host or "").lower())

    def named(self, name: str) -> PBX:
        pbx = self._by_name.get(name.strip().lower())
        if pbx is None:
            known = ", ".join(p.name for p in self.all)
            raise PBXChoiceError(
                422, "unknown_pbx", f"there is no PBX of that name (known: {known})"
            )
        return pbx

    def for_extension(self, extension: str, name: str | None = None) -> PBX:
        """The PBX a call from `extension` is placed on."""
        if name:
            pbx = self.named(name)
            if not pbx.config.owns(extension):
                raise PBXChoiceError(
                    422, "unknown_pbx", f"extension {extension} is not on the PBX {pbx.name}"
                )
            return pbx
        owners = [pbx for pbx in self.all if pbx.config.owns(extension)]
        if len(owners) == 1:
            return owners[0]
        if not owners:
            raise PBXChoiceError(
                422, "unknown_pbx", f"no PBX here has extension {extension}: name the PBX"
            )
        names = ", ".join(pbx.name for pbx in owners)
        raise PBXChoiceError(
            422, "ambiguous_pbx", f"extension {extension} is on {names}: name the PBX"
        )
