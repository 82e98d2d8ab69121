"""The validated scenario: what a YAML file means once every field is checked.

Times are seconds (floats); a field written `90m` in YAML is 5400.0 here. Offsets, windows and
reload times are measured from the scenario start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from simulator.protocol.timefmt import parse_iso_z
from simulator.units import parse_duration, parse_size


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


# Bounds on what would make a run unbounded (README: "Limits").
MAX_RUN = 366 * 86400.0  # a scenario's duration
MAX_SETTLE = 30 * 86400.0
MAX_RATE = 10_000.0  # writes, pieces or drops per device per day
MAX_PRELOAD = 200_000  # entries preloaded per user
MAX_DEVICES = 1_000


def _at_most(limit: float, shown: str, positive: bool = False) -> Callable[[float], float]:
    def check(seconds: float) -> float:
        if positive and seconds == 0:
            raise ValueError("must be above zero")
        if seconds > limit:
            raise ValueError(f"must be at most {shown}")
        return seconds

    return check


SignedDuration = Annotated[float, BeforeValidator(parse_duration)]
Duration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_non_negative)]
Size = Annotated[int, BeforeValidator(parse_size), Field(ge=0)]
Epoch = Annotated[float, BeforeValidator(_iso_z)]


class Strict(BaseModel):
    # NaN and infinity are never a meaningful scenario number: refused in every float field.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ClockStep(Strict):
    """The device clock jumps by `by` at `at` (an NTP correction, or a user setting the time)."""

    at: Duration
    by: SignedDuration


class Clock(Strict):
    offset: SignedDuration = 0.0
    drift_ppm: float = Field(default=0.0, ge=-100_000, le=100_000)
    steps: tuple[ClockStep, ...] = ()


class Constant(Strict):
    dist: Literal["constant"]
    value: Duration


class Uniform(Strict):
    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must not be below low")
        return self


class Normal(Strict):
    dist: Literal["normal"]
    mean: Duration
    std: Duration


class LogNormal(Strict):
    """Given as a median and a 99th percentile, as latency is usually reported."""

    dist: Literal["lognormal"]
    median: Duration
    p99: Duration

    @model_validator(mode="after")
    def _ordered(self) -> LogNormal:
        if self.median <= 0:
            raise ValueError("median must be above zero")
        if self.p99 < self.median:
            raise ValueError("p99 must not be below the median")
        return self


Distribution = Annotated[Constant | Uniform | Normal | LogNormal, Field(discriminator="dist")]
_DISTRIBUTION: TypeAdapter[Constant | Uniform | Normal | LogNormal] = TypeAdapter(Distribution)


def _latency(value: object) -> object:
    """A latency: a duration, or a mapping naming a distribution. Errors name the inner field
    instead of every member of the union pydantic would otherwise list."""
    if not isinstance(value, dict):
        return _non_negative(parse_duration(value))
    try:
        return _DISTRIBUTION.validate_python(value)
    except ValidationError as error:
        first = error.errors()[0]
        inner = ".".join(str(p) for p in first["loc"][1:] if not str(p).startswith("function"))
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "union_tag_invalid" or first["type"] == "union_tag_not_found":
            message = "dist must be one of constant, uniform, normal, lognormal"
        raise ValueError(f"{inner}: {message}" if inner else message) from None


Latency = Annotated[float | Distribution, BeforeValidator(_latency)]
Probability = Annotated[float, Field(ge=0, le=1)]


class Direction(Strict):
    """One direction of a link; a field left out takes the link's own value."""

    latency: Latency | None = None
    jitter: Duration | None = None
    loss: Probability | None = None
    duplicate: Probability | None = None
    reorder: Probability | None = None
    bandwidth: Size | None = None


class Drops(Strict):
    """The connection is cut: at random (a Poisson rate) and at given times."""

    per_day: float = Field(default=0.0, ge=0, le=MAX_RATE)
    at: tuple[Duration, ...] = ()


class Link(Strict):
    latency: Latency = 0.05
    jitter: Duration = 0.0
    loss: Probability = 0.0
    duplicate: Probability = 0.0
    reorder: Probability = 0.0
    bandwidth: Size = 0
    max_message: Size = 1024 * 1024
    drops: Drops = Drops()
    up: Direction = Direction()
    down: Direction = Direction()


class Window(Strict):
    start: Duration = Field(alias="from")
    end: Duration = Field(alias="to")


class Partition(Window):
    kind: Literal["partition"]
    devices: tuple[str, ...] = Field(min_length=1)
    direction: Literal["both", "up", "down"] = "both"


class ServerOutage(Window):
    kind: Literal["server_outage"]


class Flap(Window):
    kind: Literal["flap"]
    devices: tuple[str, ...] = Field(min_length=1)
    period: Duration = Field(default=300.0, ge=1.0)
    down: Duration = 60.0

    @model_validator(mode="after")
    def _fits(self) -> Flap:
        if not 0 < self.down < self.period:
            raise ValueError("need 0 < down < period")
        return self


class ErrorEvery(Window):
    """The server answers ERROR, in place of storing it, to every `every`-th mutation each
    device sends (counted per device from `from`)."""

    kind: Literal["error_every"]
    devices: tuple[str, ...] = Field(min_length=1)
    every: int = Field(ge=1, le=1_000_000)
    error: str = Field(default="refused by fault: error_every", min_length=1, max_length=200)


Fault = Annotated[Partition | ServerOutage | Flap | ErrorEvery, Field(discriminator="kind")]


class HotItem(Strict):
    """Several devices edit one shared entry within seconds of each other, every `every`."""

    user: str = Field(default="alice", min_length=1)
    devices: tuple[str, ...] = Field(min_length=2)
    every: Duration = Field(default=7200.0, ge=1.0)
    within: Duration = 5.0


class Workload(Strict):
    entries_per_day: float = Field(default=4.0, ge=0, le=MAX_RATE)
    update_ratio: float = Field(default=0.2, ge=0, le=1)
    delete_ratio: float = Field(default=0.05, ge=0, le=1)
    pieces_per_day: float = Field(default=0.5, ge=0, le=MAX_RATE)
    piece_update_ratio: float = Field(default=0.3, ge=0, le=1)
    piece_remove_ratio: float = Field(default=0.05, ge=0, le=1)
    messy_spelling_ratio: float = Field(default=0.3, ge=0, le=1)
    active_hours: tuple[int, int] = (7, 23)


class Preload(Strict):
    """History a user already has on the server before the scenario starts."""

    user: str = Field(default="alice", min_length=1)
    entries: int = Field(default=0, ge=0, le=MAX_PRELOAD)
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
    crashes: tuple[Duration, ...] = ()
    wipes: tuple[Duration, ...] = ()
    quota: Size = 5 * 1024 * 1024
    workload: Workload = Workload()


# What a scripted step may `do`, and which fields each one takes besides `at`, `device`, `do`
# and `name` (every step may have a name, for `replay` and the expectations to refer to).
STEP_FIELDS: dict[str, frozenset[str]] = {
    "create": frozenset({"item", "fields"}),
    "update": frozenset({"item", "fields"}),
    "delete": frozenset({"item"}),
    "add_piece": frozenset({"item", "title", "composer", "status"}),
    "update_piece": frozenset({"item", "fields"}),
    "remove_piece": frozenset({"item"}),
    "reload": frozenset(),
    "crash": frozenset({"when"}),
    "wipe": frozenset(),
    "offline": frozenset(),
    "online": frozenset(),
    "disconnect": frozenset(),
    "accept_backfill": frozenset(),
    # Wire-level steps, for probing a server: what they send is recorded like any frame.
    "send": frozenset({"frame"}),
    "replay": frozenset({"step"}),
    "request": frozenset({"cursor"}),
    "connect": frozenset({"token"}),
    "push": frozenset({"changes", "key"}),
    "pull": frozenset(),
}
# The `do`s that need an `item` naming what an earlier step created, and of which kind.
STEP_NEEDS_ITEM: dict[str, str] = {
    "update": "create",
    "delete": "create",
    "update_piece": "add_piece",
    "remove_piece": "add_piece",
}
# The `do`s that put a frame on the device's connection, which a `replay` may send again.
STEP_SENDS = frozenset(
    {"create", "update", "delete", "add_piece", "update_piece", "remove_piece", "send", "request"}
)
# The `do`s that need a field of their own.
STEP_NEEDS: dict[str, str] = {
    "add_piece": "title",
    "send": "frame",
    "replay": "step",
    "push": "changes",
}
# What credentials a `connect` step opens a connection with (README: Wire-level steps).
TOKENS = ("valid", "no_token", "no_user", "bad_signature", "expired", "other_user")
_STEP_DOS = ", ".join(STEP_FIELDS)


def _step_do(value: object) -> object:
    if value not in STEP_FIELDS:
        raise ValueError(f"unknown do {value!r}; known: {_STEP_DOS}")
    return value


class ScriptStep(Strict):
    """One scripted step: device `device` does `do` at `at`. Which of the other fields a `do`
    takes is `STEP_FIELDS`; the loader refuses the rest, with their line."""

    at: Duration
    device: str = Field(min_length=1)
    do: Annotated[str, BeforeValidator(_step_do)]
    name: str | None = Field(default=None, min_length=1, max_length=200)
    item: str | None = Field(default=None, min_length=1, max_length=200)
    fields: dict[str, Any] | None = None
    title: str | None = Field(default=None, min_length=1, max_length=500)
    composer: str | None = Field(default=None, min_length=1, max_length=500)
    status: str | None = Field(default=None, min_length=1, max_length=100)
    when: Literal["before", "during", "after"] | None = None
    # A literal frame: a mapping (sent as JSON) or a text (sent as it is, JSON or not).
    frame: dict[str, Any] | str | None = None
    step: str | None = Field(default=None, min_length=1, max_length=200)
    cursor: dict[str, Any] | None = None
    token: Literal[TOKENS] | None = None  # type: ignore[valid-type]
    changes: list[Any] | None = None
    key: str | None = Field(default=None, min_length=1, max_length=1000)


class Limits(Strict):
    max_frame_bytes: Size = 1024 * 1024


class Bound(Strict):
    lte: Any = None
    lt: Any = None
    gte: Any = None
    gt: Any = None
    eq: Any = None


class SimServer(Strict):
    """The in-process reference server, in simulated time."""

    kind: Literal["sim"] = "sim"


class LiveServer(Strict):
    """A real WebSocket endpoint, played in wall time."""

    kind: Literal["live"]
    url: str = Field(pattern=r"^wss?://")
    # REST pull/push; by default the WebSocket's host and port over http(s).
    rest_url: str | None = Field(default=None, pattern=r"^https?://")
    jwt_secret_env: str = "SYNCSIM_JWT_SECRET"
    # User ids to mint tokens for; by default every user the devices name.
    users: tuple[str, ...] = ()
    # Scenario seconds per wall second: 10080 plays a week in a minute.
    time_scale: float = Field(default=1000.0, gt=0, le=1_000_000)
    # The deadline of every wait on the endpoint (connect, close, REST), in wall seconds.
    timeout: Duration = 10.0
    # Wall seconds between a device's keep-alive PINGs; None: the profile's ping_interval_s,
    # read as wall seconds. Never more often than the profile's interval in scenario time.
    keepalive: Duration | None = None
    # Wall time a change that reached the endpoint is given to be answered before the
    # persisted outbox may send it again: the profile's backoff, in scenario time, is
    # microseconds of wall time at a high time scale, less than any real server takes.
    answer_wait: Duration = 0.25
    # Before the snapshot: wall seconds without a frame moving that count as settled ...
    quiet: Duration = 0.5
    # ... and the wall deadline of that wait, from the end of the settle phase.
    quiesce_timeout: Duration = 30.0
    # Shell commands that stop and start the endpoint, for `server_outage` faults ...
    stop_cmd: str | None = Field(default=None, min_length=1)
    start_cmd: str | None = Field(default=None, min_length=1)
    # ... and the wall deadline of each (a start includes the endpoint accepting again).
    command_timeout: Duration = 60.0
    # Where to write the scenario clock for `syncsim serve --clock-file` (live/clockfile.py).
    clock_file: str | None = Field(default=None, min_length=1)


Server = Annotated[SimServer | LiveServer, Field(discriminator="kind")]


class Scenario(Strict):
    name: str = ""
    description: str = ""
    seed: int = Field(default=0, ge=0, lt=2**63)
    start: Epoch = Field(default_factory=lambda: _iso_z("2026-03-02T00:00:00Z"))
    duration: Annotated[Duration, AfterValidator(_at_most(MAX_RUN, "366d", positive=True))]
    settle: Annotated[Duration, AfterValidator(_at_most(MAX_SETTLE, "30d"))] = 600.0
    profile: str = "legacy"
    server: Server = SimServer()
    flags: dict[str, Any] = Field(default_factory=dict)
    limits: Limits = Limits()
    preload: tuple[Preload, ...] = ()
    faults: tuple[Fault, ...] = ()
    hot_items: tuple[HotItem, ...] = ()
    steps: tuple[ScriptStep, ...] = Field(default=(), max_length=100_000)
    devices: tuple[Device, ...] = Field(min_length=1, max_length=MAX_DEVICES)
    expect: dict[str, Any] = Field(default_factory=dict)
    expect_by_profile: dict[str, dict[str, Any]] = Field(default_factory=dict)
