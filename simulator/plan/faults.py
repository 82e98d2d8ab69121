"""The fault registry: each fault kind of a scenario, and the steps it compiles into.

A fault is one entry here: its scenario model (in `scenario/model.py`, where the YAML is
validated) and a function from one such fault to plan steps. The registry is checked against
the scenario's fault union when this module loads, so a kind the loader accepts but nothing
executes cannot exist; the executors never see a fault, only the steps it became.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, get_args

from simulator.plan.actions import (
    BreakIfPartitioned,
    Intercept,
    Partition,
    ServerDown,
    ServerUp,
    SetOnline,
    Step,
)
from simulator.protocol.codec import Frame, error_frame
from simulator.protocol.kinds import MUTATIONS
from simulator.scenario import model

PARTITION_DETECT = 30.0  # an open connection into a partition breaks after this long

Compiler = Callable[[Any, float], Iterator[Step]]


def _partition(fault: model.Partition, end: float) -> Iterator[Step]:
    both = fault.direction == "both"
    directions = frozenset({"up", "down"} if both else {fault.direction})
    for name in fault.devices:
        yield Step(fault.start, name, Partition(directions, True))
        if both:
            # Nothing gets through: the connection breaks once keep-alives go unanswered.
            yield Step(fault.start + PARTITION_DETECT, name, BreakIfPartitioned())
        yield Step(min(fault.end, end), name, Partition(directions, False))


def _server_outage(fault: model.ServerOutage, end: float) -> Iterator[Step]:
    yield Step(fault.start, None, ServerDown())
    yield Step(min(fault.end, end), None, ServerUp())


def _flap(fault: model.Flap, end: float) -> Iterator[Step]:
    """Down for `down` at the start of every `period`."""
    stop = min(fault.end, end)
    at = fault.start
    while at < stop:
        for name in fault.devices:
            yield Step(at, name, SetOnline(False))
            yield Step(min(at + fault.down, stop), name, SetOnline(True))
        at += fault.period


@dataclass(frozen=True)
class EveryNth:
    """Answers ERROR to every `every`-th mutation in the server's place; the rest pass."""

    every: int
    error: str

    def counts(self, frame: Frame) -> bool:
        return frame.type in MUTATIONS

    def answer(self, frame: Frame, count: int, now: float) -> Frame | None:
        if count % self.every:
            return None
        return error_frame(self.error, now, frame)


def _error_every(fault: model.ErrorEvery, end: float) -> Iterator[Step]:
    for name in fault.devices:
        yield Step(fault.start, name, Intercept(EveryNth(fault.every, fault.error)))
        yield Step(min(fault.end, end), name, Intercept(None))


FAULTS: dict[type, Compiler] = {
    model.Partition: _partition,
    model.ServerOutage: _server_outage,
    model.Flap: _flap,
    model.ErrorEvery: _error_every,
}

_MODELS = set(get_args(get_args(model.Fault)[0]))
if set(FAULTS) != _MODELS:  # pragma: no cover - a registry out of step fails at import
    raise ImportError(f"fault registry and scenario faults differ: {set(FAULTS) ^ _MODELS}")


def compile_fault(fault: Any, end: float) -> Iterator[Step]:
    """The steps of one fault that starts before `end`; its end is clipped to `end`."""
    if fault.start >= end:
        return iter(())
    return FAULTS[type(fault)](fault, end)
