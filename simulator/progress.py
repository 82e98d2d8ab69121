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
from tqdm import tqdm

from simulator.units import format_duration

# (simulated seconds done, simulated seconds in total)
ProgressCallback = Callable[[float, float], None]
STEPS = 200  # reports per run, at evenly spaced simulated times
FORMAT = "{desc}  |{bar:30}| {percentage:3.0f}%  {simulated}  [{elapsed}<{remaining}]"
MIN_INTERVAL_S = 0.1  # wall seconds between redraws: a fast run does not flood the terminal

_factory: ContextVar[Callable[[str], ProgressCallback] | None] = ContextVar(
    "syncsim_progress", default=None
)


def wanted(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """A bar only for a person watching a terminal: stderr is a TTY and `CI` is not set."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "CI" not in environ


class _Simulated(tqdm):  # type: ignore[type-arg]
    """tqdm with one more field for the bar's format: how much simulated time is done."""

    def __init__(self, *args: Any, simulated: str = "", **kwargs: Any) -> None:
        self.simulated = simulated  # before tqdm draws the bar for the first time
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self) -> dict[str, Any]:
        return {**super().format_dict, "simulated": self.simulated}


class Bar:
    """`offline_week  |#########.....|  31%  2.2d of 7.0d simulated  [00:03<00:07]`.

    Drawn in place by tqdm (it fits the terminal's width and says how long the rest will take,
    from the wall time so far), created at the first report, when the total is known, and
    closed with a newline once the run is complete.
    """

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self._bar: _Simulated | None = None
        self.done = False

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def __call__(self, now: float, total: float) -> None:
        if self.done:
            return
        done = min(now, total)
        simulated = f"{format_duration(done)} of {format_duration(total)} simulated"
        if self._bar is None:
            self._bar = _Simulated(
                simulated=simulated,
                total=max(total, 0.0),
                desc=self.label,
                file=self.stream,
                bar_format=FORMAT,
                ascii=" .#",
                dynamic_ncols=True,
                mininterval=MIN_INTERVAL_S,
            )
        self._bar.simulated = simulated
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        """Draw the last state and end the line, complete or cut short."""
        if self._bar is not None and not self.done:
            self._bar.close()
        self.done = True


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
        for bar in bars:  # a run cut short: what is printed next starts on its own line
            bar.close()


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
