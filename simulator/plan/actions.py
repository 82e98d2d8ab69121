"""What a plan is made of: steps, each an action at a scenario time, on a device or on the world.

Actions are frozen data. They say what happens, never how: the shared device lifecycle
(`simulator.lifecycle`) carries each one out, and the executors (simpy, asyncio) only decide
when "now" is and how frames travel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from simulator.protocol.codec import Frame
from simulator.workload.user import UserAct

__all__ = [
    "AcceptBackfill",
    "Action",
    "ArmCrash",
    "BreakIfPartitioned",
    "Drop",
    "Handshake",
    "HotBurst",
    "HotEdit",
    "Intercept",
    "Interceptor",
    "Partition",
    "Reload",
    "Replay",
    "RestCall",
    "ScriptedAct",
    "ServerDown",
    "ServerUp",
    "SetOnline",
    "Start",
    "Step",
    "UserAct",
    "Wipe",
    "WireSend",
]


@dataclass(frozen=True)
class Start:
    """The device's page loads for the first time (a device joining)."""


@dataclass(frozen=True)
class SetOnline:
    """The network goes down or comes back; `nudge` fires the browser's online event even
    when it already was online (the settle phase)."""

    online: bool
    nudge: bool = False


@dataclass(frozen=True)
class Partition:
    """The device cannot reach the server in `directions` (up, down) from now (`on`) or no
    longer."""

    directions: frozenset[str]
    on: bool


@dataclass(frozen=True)
class BreakIfPartitioned:
    """Keep-alives went unanswered: an open connection still cut both ways breaks."""


@dataclass(frozen=True)
class Drop:
    """The connection is cut (a tunnel, a NAT timeout)."""


@dataclass(frozen=True)
class Reload:
    """The page reloads: memory lost, localStorage kept."""


@dataclass(frozen=True)
class ArmCrash:
    """From now on, the page crashes at its next outbox drain, then reloads: `when` says
    whether before it sends anything, halfway through (None: the same, for a timeline's
    `crashes`, whose rows name no `when`) or once it has sent everything."""

    when: str | None = None


@dataclass(frozen=True)
class Wipe:
    """Storage wiped or the app reinstalled."""


@dataclass(frozen=True)
class HotBurst:
    """Burst `number` of hot item `index`: the devices choose one entry they all hold (or the
    first creates one, when they share none yet)."""

    index: int
    number: int
    devices: tuple[str, ...]
    seed: int


@dataclass(frozen=True)
class HotEdit:
    """The device edits the entry its burst chose, if it holds it."""

    index: int
    number: int
    seed: int


@dataclass(frozen=True)
class ScriptedAct:
    """A scripted step's user act (`do`: create, update, delete, add_piece, update_piece,
    remove_piece) on the item named `item`. A create or add_piece gives the name its real id
    when it runs; the others find the id by that name. What the user types and the lifecycle
    does not say comes from `seed` alone."""

    do: str
    item: str | None
    seed: int
    fields: tuple[tuple[str, Any], ...] = ()
    title: str | None = None
    composer: str | None = None
    status: str | None = None
    name: str | None = None  # the step's name, for a replay and the expectations


@dataclass(frozen=True)
class WireSend:
    """A literal frame put on the device's open connection (a `send` or `request` step):
    `template` is its text with references (`{{item.E1.id}}`, `{{now}}`) still to fill in."""

    name: str | None
    template: str


@dataclass(frozen=True)
class Replay:
    """The frame step `target` last sent (a literal one, or the mutation a user act made)
    sent again as it was, as a retry after a lost acknowledgement would send it."""

    name: str | None
    target: str


@dataclass(frozen=True)
class Handshake:
    """A connection opened beside the device's own with the credentials `token` names (a
    valid token, none, an expired one ...) and closed at once: what the endpoint answers to
    the upgrade is recorded."""

    name: str | None
    token: str


@dataclass(frozen=True)
class RestCall:
    """`POST /api/sync/push` (with `body`, under idempotency `key`) or `/api/sync/pull` as
    the device's user; the answer is recorded, and no client hears of it."""

    name: str | None
    op: str  # push or pull
    body: str | None = None  # the push body's text, references still to fill in
    key: str | None = None


@dataclass(frozen=True)
class AcceptBackfill:
    """The user accepts the pending prompt to download the full history (`backfill: confirm`)."""


@dataclass(frozen=True)
class ServerDown:
    """The server stops (its store is kept)."""


@dataclass(frozen=True)
class ServerUp:
    """The server starts again."""


class Interceptor(Protocol):
    """Something at the server's end of a device's link that answers some frames in the
    server's place (a fault: a server refusing writes, a gateway). Frozen data: the lifecycle
    keeps the count of the frames it has counted so far."""

    def counts(self, frame: Frame) -> bool:
        """Whether this frame is one of those it counts."""
        ...

    def answer(self, frame: Frame, count: int, now: float) -> Frame | None:
        """The frame to send back instead of passing `frame` on (the `count`-th counted),
        or None to let it through. `now` is the server's time."""
        ...


@dataclass(frozen=True)
class Intercept:
    """Put an interceptor on the device's link, or take it away (None)."""

    interceptor: Interceptor | None


Action = (
    Start
    | SetOnline
    | Partition
    | BreakIfPartitioned
    | Drop
    | Reload
    | ArmCrash
    | Wipe
    | UserAct
    | HotBurst
    | HotEdit
    | ScriptedAct
    | AcceptBackfill
    | ServerDown
    | ServerUp
    | Intercept
    | WireSend
    | Replay
    | Handshake
    | RestCall
)


@dataclass(frozen=True)
class Step:
    """One action at scenario time `t` (seconds from the start), on `device` (None: the
    world, such as the server or a group of devices)."""

    t: float
    device: str | None
    action: Action
