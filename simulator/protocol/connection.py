"""The client's connection and backfill state machines, as transition tables (h11's `_state.py`).

How it works: a machine holds one state; `handle(input)` looks the pair (state, input) up in its
table and moves to the state found there. A pair that is not in the table is a bug of whoever
fed the input (a driver telling an open client that it opened again, say) and raises
`LocalProtocolError` at once, instead of the client quietly holding two connections.

Connect attempts are numbered. The driver answers each `OpenConnection(attempt)` with that
attempt's number; an answer for an attempt the client has since given up (a reload while a
handshake was in flight) is stale, and the client discards it: an opened stale attempt is
closed again, a failed or closed one changes nothing.
"""

from __future__ import annotations

from enum import Enum
from typing import Generic, TypeVar

from simulator.errors import SyncsimError


class LocalProtocolError(SyncsimError):
    """An input a state machine does not accept in its current state."""


class ConnState(Enum):
    CLOSED = "closed"
    CONNECTING = "connecting"
    OPEN = "open"


class ConnInput(Enum):
    CONNECT = "connect"  # the client asks its driver for a connection
    OPENED = "opened"  # the driver: the current attempt is open
    FAILED = "failed"  # the driver: the current attempt did not open
    LOST = "lost"  # the driver: the open connection ended
    CLOSE = "close"  # the client gives up its attempt or connection (a reload)


CONNECTION: dict[tuple[ConnState, ConnInput], ConnState] = {
    (ConnState.CLOSED, ConnInput.CONNECT): ConnState.CONNECTING,
    (ConnState.CONNECTING, ConnInput.OPENED): ConnState.OPEN,
    (ConnState.CONNECTING, ConnInput.FAILED): ConnState.CLOSED,
    (ConnState.CONNECTING, ConnInput.CLOSE): ConnState.CLOSED,
    (ConnState.OPEN, ConnInput.LOST): ConnState.CLOSED,
    (ConnState.OPEN, ConnInput.CLOSE): ConnState.CLOSED,
}


class BackfillState(Enum):
    IDLE = "idle"
    PROMPTED = "prompted"  # the user was asked to download the full history
    PULLING = "pulling"  # a REST pull is in flight


class BackfillInput(Enum):
    PROMPT = "prompt"
    PULL = "pull"  # the pull is requested (at once, or after the user agreed)
    DONE = "done"  # the pull answered or failed


BACKFILL: dict[tuple[BackfillState, BackfillInput], BackfillState] = {
    (BackfillState.IDLE, BackfillInput.PROMPT): BackfillState.PROMPTED,
    (BackfillState.IDLE, BackfillInput.PULL): BackfillState.PULLING,
    (BackfillState.PROMPTED, BackfillInput.PULL): BackfillState.PULLING,
    (BackfillState.PULLING, BackfillInput.DONE): BackfillState.IDLE,
}

S = TypeVar("S", bound=Enum)
I = TypeVar("I", bound=Enum)  # noqa: E741 (the table's input type)


class Machine(Generic[S, I]):
    """One state and the table that says where each allowed input takes it."""

    def __init__(self, name: str, table: dict[tuple[S, I], S], start: S) -> None:
        self.name = name
        self._table = table
        self.state = start

    def allows(self, event: I) -> bool:
        return (self.state, event) in self._table

    def handle(self, event: I) -> S:
        try:
            self.state = self._table[(self.state, event)]
        except KeyError:
            raise LocalProtocolError(
                f"{self.name}: {event.value!r} is not allowed in state {self.state.value!r}"
            ) from None
        return self.state


def connection_machine() -> Machine[ConnState, ConnInput]:
    return Machine("connection", CONNECTION, ConnState.CLOSED)


def backfill_machine() -> Machine[BackfillState, BackfillInput]:
    return Machine("backfill", BACKFILL, BackfillState.IDLE)
