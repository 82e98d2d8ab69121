"""A progress bar for long runs: simulated time done out of the total, on stderr.

Shown only when stderr is a terminal and the `CI` environment variable is not set, so CI logs
and pipes stay clean. The simulation knows nothing of it: `attach` schedules a recurring simpy
timeout on the simulation's environment that reports `env.now`. That callback changes no
state and draws no random number, so a run with a bar records the very same history.

`runner.run` takes a callback explicitly; without one it uses the bar installed by
`terminal_bars()` (the CLI installs it), so every command that runs scenarios, the matrix and
the e2e gate included, shows a bar without passing it through each layer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

import simpy

from simulator.units import format_duration

# (simulated seconds done, simulated seconds in total)
ProgressCallback = Callable[[float, float], None]
STEPS = 200  # reports per run, at evenly spaced simulated times
WIDTH = 30

_factory: ContextVar[Callable[[str], ProgressCallback] | None] = ContextVar(
    "syncsim_progress", default=None
)


def wanted(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """A bar only for a person watching a terminal: stderr is a TTY and `CI` is not set."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "CI" not in environ


class Bar:
    """`offline_week  [#########.....................]  31%  2.2d of 7.0d simulated`.

    Redrawn in place with a carriage return, only when the shown percentage changes; a newline
    once the run is complete.
    """

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self.shown: int | None = None
        self.done = False

    def __call__(self, now: float, total: float) -> None:
        if self.done:
            return
        share = min(1.0, now / total) if total > 0 else 1.0
        percent = int(share * 100)
        if percent == self.shown:
            return
        self.shown = percent
        filled = int(share * WIDTH)
        bar = "#" * filled + "." * (WIDTH - filled)
        line = (
            f"\r{self.label}  [{bar}] {percent:3d}%  "
            f"{format_duration(min(now, total))} of {format_duration(total)} simulated"
        )
        self.stream.write(line + "\x1b[K")
        if share >= 1.0:
            self.stream.write("\n")
            self.done = True
        self.stream.flush()


@contextmanager
def terminal_bars(
    stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Within this block, runs without an explicit callback draw a `Bar` on `stream`
    (default stderr) when `wanted`; otherwise nothing changes."""
    out = stream if stream is not None else sys.stderr
    if not wanted(out, os.environ if environ is None else environ):
        yield
        return
    bars: list[Bar] = []

    def make(label: str) -> Bar:
        bars.append(Bar(label, out))
        return bars[-1]

    token = _factory.set(make)
    try:
        yield
    finally:
        _factory.reset(token)
        if any(bar.shown is not None and not bar.done for bar in bars):
            out.write("\n")  # a run cut short: what is printed next starts on its own line
            out.flush()


def ambient(label: str) -> ProgressCallback | None:
    """The bar `terminal_bars` installed, for a run named `label`, or None."""
    factory = _factory.get()
    return factory(label) if factory is not None else None


def attach(env: simpy.Environment, total: float, callback: ProgressCallback) -> None:
    """Call `callback(now, total)` every `total / STEPS` simulated seconds until `total`."""
    if total <= 0:
        return
    step = total / STEPS

    def ticker() -> Generator[Any, Any, None]:
        while env.now < total:
            yield env.timeout(min(step, total - env.now))
            callback(env.now, total)

    env.process(ticker())
