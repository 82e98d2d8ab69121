"""A scenario clock shared through a file, for the reference server.

A time-scaled live run plays scenario time faster than the wall clock, and every device's
clock follows scenario time; a server that stamps rows with the wall clock is never in step
with them, so a `lastSyncTime` cursor means something else live than simulated. Against a
real deployment that is so (and said in the README); against `syncsim serve --clock-file
PATH` it need not be: the live run writes where its scenario time stands (`epoch`, `scale`
and the wall time they hold from) into `server.clock_file`, and the server reads its `now`
from there, so its rows are stamped as the simulation's server stamps them: the scenario's
start plus scenario seconds. Before t=0 (preflight, preload) the clock stands still at the
start; until the file exists the server uses the wall clock.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ClockSetting:
    epoch: float  # the scenario clock's reading at `wall`, in epoch seconds
    scale: float  # scenario seconds per wall second from then on
    wall: float  # wall time (time.time()) the setting holds from

    def now(self, wall_now: float) -> float:
        return self.epoch + (wall_now - self.wall) * self.scale


def write_clock(path: Path, setting: ClockSetting) -> None:
    """Replace the file whole: a reader sees the old setting or the new one, never half."""
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(json.dumps(asdict(setting)))
    os.replace(staging, path)


class FileClock:
    """`now()` for the server: the setting in the file, re-read when the file changes; the
    wall clock while there is none (or it cannot be read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._setting: ClockSetting | None = None

    def __call__(self) -> float:
        try:
            stat = os.stat(self.path)
        except OSError:
            return time.time()
        if (stat.st_mtime_ns, stat.st_ino) != self._seen:
            self._seen = (stat.st_mtime_ns, stat.st_ino)
            self._setting = _read(self.path)
        wall = time.time()
        return wall if self._setting is None else self._setting.now(wall)


def _read(path: Path) -> ClockSetting | None:
    try:
        body = json.loads(path.read_text())
        return ClockSetting(float(body["epoch"]), float(body["scale"]), float(body["wall"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
