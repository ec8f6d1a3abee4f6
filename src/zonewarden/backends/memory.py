"""The in-memory DNS backend: the reference model of an external server, for contract
tests and the simulator.

It keeps what an RFC 2136 server keeps (a marker and address rrsets per name) and
applies a batch atomically: every prerequisite is checked first, then every change is
made, or nothing is. `fail_next` injects server faults for tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from zonewarden.backends.base import Change, FencedBackend, served
from zonewarden.core.model import EndpointName
from zonewarden.errors import BackendRejected, BackendUnavailable
from zonewarden.ports import LiveEndpoint


class MemoryBackend(FencedBackend):
    description = "in-memory DNS backend"

    def __init__(self, zone: str = "example.", *, batch_size: int = 100) -> None:
        super().__init__(zone, batch_size=batch_size)
        self.names: dict[EndpointName, LiveEndpoint] = {}
        self.messages = 0
        self.fail_next: list[str] = []  # "servfail", "refused", "badkey", "timeout"

    def _read(self, names: Sequence[EndpointName]) -> dict[EndpointName, LiveEndpoint]:
        return {n: self.names.get(n, LiveEndpoint(n, None)) for n in names}

    def _apply(self, changes: Sequence[Change], *, fenced: bool) -> bool:
        if self.fail_next:
            fault = self.fail_next.pop(0)
            if fault == "badkey":
                raise BackendRejected(f"{self.description} rejected the TSIG key (BADKEY)")
            raise BackendUnavailable(f"{self.description} answered {fault.upper()}; retry later")
        self.messages += 1
        if fenced:
            for c in changes:
                live = self.names.get(c.name)
                if (live.marker if live else None) != c.expected:
                    return False
        for c in changes:
            self.names[c.name] = LiveEndpoint(c.name, c.marker, served(c.content), c.content.ttl)
        return True

    def _remove(self, name: EndpointName) -> None:
        live = self.names.get(name)
        if live is not None:
            self.names[name] = LiveEndpoint(name, live.marker)
