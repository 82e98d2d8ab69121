"""The validated scenario: what a YAML file means once every field is checked.

Times are seconds (floats); a field written `90m` in YAML is 5400.0 here. Offsets, windows and
reload times are measured from the scenario start.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from simulator.protocol.timefmt import parse_iso_z
from simulator.scenario.units import parse_duration, parse_size


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def _iso_z(value: object) -> float:
    if isinstance(value, datetime):
        # YAML reads an unquoted timestamp as a datetime; a naive one is UTC.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.timestamp()
    moment = parse_iso_z(value)
    if moment is None:
        raise ValueError("expected an ISO 8601 UTC time in quotes, e.g. '2026-03-02T00:00:00Z'")
    return moment


SignedDuration = Annotated[float, BeforeValidator(parse_duration)]
Duration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_non_negative)]
Size = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
Epoch = Annotated[float, BeforeValidator(_iso_z)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clock(Strict):
    offset: SignedDuration = 0.0


class Link(Strict):
    latency: Duration = 0.05
    jitter: Duration = 0.0


class Window(Strict):
    start: Duration = Field(alias="from")
    end: Duration = Field(alias="to")


class Workload(Strict):
    entries_per_day: float = Field(default=4.0, ge=0)
    update_ratio: float = Field(default=0.2, ge=0, le=1)
    delete_ratio: float = Field(default=0.05, ge=0, le=1)
    pieces_per_day: float = Field(default=0.5, ge=0)
    piece_update_ratio: float = Field(default=0.3, ge=0, le=1)
    piece_remove_ratio: float = Field(default=0.05, ge=0, le=1)
    messy_spelling_ratio: float = Field(default=0.3, ge=0, le=1)
    active_hours: tuple[int, int] = (7, 23)


class Preload(Strict):
    """History a user already has on the server before the scenario starts."""

    user: str = Field(default="alice", min_length=1)
    entries: int = Field(default=0, ge=0)
    pieces: int = Field(default=0, ge=0, le=20000)
    over: Duration = 90 * 86400.0


class Device(Strict):
    name: str = Field(min_length=1)
    user: str = Field(default="alice", min_length=1)
    clock: Clock = Clock()
    link: Link = Link()
    joins: Duration = 0.0
    offline: tuple[Window, ...] = ()
    reloads: tuple[Duration, ...] = ()
    workload: Workload = Workload()


class Limits(Strict):
    max_frame_bytes: Size = 1024 * 1024


class Bound(Strict):
    lte: Any = None
    lt: Any = None
    gte: Any = None
    gt: Any = None
    eq: Any = None


class Scenario(Strict):
    name: str = ""
    description: str = ""
    seed: int = 0
    start: Epoch = Field(default_factory=lambda: _iso_z("2026-03-02T00:00:00Z"))
    duration: Duration
    settle: Duration = 600.0
    profile: str = "legacy"
    flags: dict[str, Any] = Field(default_factory=dict)
    limits: Limits = Limits()
    preload: tuple[Preload, ...] = ()
    devices: tuple[Device, ...] = Field(min_length=1)
    expect: dict[str, Any] = Field(default_factory=dict)
    expect_by_profile: dict[str, dict[str, Any]] = Field(default_factory=dict)
