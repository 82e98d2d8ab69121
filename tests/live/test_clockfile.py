"""The scenario clock a live run shares with `syncsim serve --clock-file`."""

from __future__ import annotations

import time
from pathlib import Path

from simulator.live.clockfile import ClockSetting, FileClock, write_clock


def test_without_a_file_the_server_keeps_the_wall_clock(tmp_path: Path) -> None:
    clock = FileClock(tmp_path / "clock.json")
    before = time.time()
    assert before <= clock() <= time.time()


def test_a_setting_stands_still_at_scale_0_and_runs_scaled_after(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    clock = FileClock(path)
    wall = time.time()
    write_clock(path, ClockSetting(epoch=1_000_000.0, scale=0.0, wall=wall))
    assert clock() == 1_000_000.0
    write_clock(path, ClockSetting(epoch=1_000_000.0, scale=3000.0, wall=wall - 2.0))
    # Two wall seconds (and a little) at 3000x: at least 6000 scenario seconds on.
    assert clock() >= 1_006_000.0


def test_a_file_that_cannot_be_read_falls_back_to_the_wall_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    path.write_text("{not json")
    before = time.time()
    assert before <= FileClock(path)() <= time.time()


def test_the_setting_is_worked_out_from_its_wall_anchor() -> None:
    setting = ClockSetting(epoch=100.0, scale=10.0, wall=50.0)
    assert setting.now(50.0) == 100.0 and setting.now(52.5) == 125.0
