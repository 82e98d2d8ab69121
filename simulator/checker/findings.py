"""Findings: one anomaly, explained by its evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.checker.names import Anomaly


@dataclass(frozen=True)
class WriteRef:
    """A user write involved in a finding, with both the true and the device time."""

    row: int
    write_id: str
    device: str
    op: str
    t: float
    device_time: float
    updated_at: str | None


@dataclass(frozen=True)
class Finding:
    anomaly: Anomaly
    summary: str
    user: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    devices: tuple[str, ...] = ()
    cause: str | None = None
    t: float | None = None
    writes: tuple[WriteRef, ...] = ()
    rows: tuple[int, ...] = field(default=())
    # Other items of the same type the finding is about (a duplicate's twins), so a report
    # tells every one's story.
    others: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["anomaly"] = self.anomaly.value
        return body
