"""The progress bar: simulated time done out of the total, only for a person at a terminal,
and never a change to what the simulation records."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from tests_support import SMALL_YAML

from simulator.progress import Bar, ambient, terminal_bars, wanted
from simulator.runner import run
from simulator.scenario.loader import load_text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_only_on_a_terminal_outside_ci() -> None:
    assert wanted(_Terminal(), {})
    assert not wanted(_Terminal(), {"CI": "true"})
    assert not wanted(_Terminal(), {"CI": ""})
    assert not wanted(io.StringIO(), {})  # a pipe or a file


def test_no_bar_is_installed_in_ci_or_a_pipe() -> None:
    with terminal_bars(_Terminal(), {"CI": "1"}):
        assert ambient("x") is None
    with terminal_bars(io.StringIO(), {}):
        assert ambient("x") is None
    with terminal_bars(_Terminal(), {}):
        assert ambient("x") is not None
    assert ambient("x") is None


def test_progress_reports_simulated_time_and_keeps_the_history() -> None:
    loaded = load_text("small.yaml", SMALL_YAML)
    total = loaded.scenario.duration + loaded.scenario.settle
    seen: list[tuple[float, float]] = []
    with_progress = run(loaded, progress=lambda now, of: seen.append((now, of)))
    without = run(loaded)
    assert with_progress.history.digest() == without.history.digest()
    assert len(seen) >= 100
    assert all(of == total for _, of in seen)
    times = [now for now, _ in seen]
    assert times == sorted(times) and times[-1] == total and 0 < times[0] < total / 50


def test_the_bar_draws_in_place_and_ends_with_a_newline() -> None:
    out = _Terminal()
    with terminal_bars(out, {}):
        run(load_text("small.yaml", SMALL_YAML))
    text = out.getvalue()
    assert text.startswith("\rsmall  |")
    last = text.rsplit("\r", 1)[1]
    assert last.startswith("small  |" + "#" * 30 + "| 100%  2.0d of 2.0d simulated  [")
    assert text.endswith("]\n") and text.count("\n") == 1
    # Every state drawn says how much simulated time is done, never an empty field.
    assert all(" of 2.0d simulated  [" in line for line in text.strip().split("\r"))


def test_a_complete_bar_draws_nothing_more() -> None:
    out = _Terminal()
    bar = Bar("x", out)
    for now in (0.0, 0.5, 1.0):
        bar(now, 1.0)
    drawn = out.getvalue()
    assert drawn.endswith("\n") and bar.done
    bar(1.0, 1.0)
    bar.close()
    assert out.getvalue() == drawn


def test_a_run_cut_short_leaves_the_terminal_on_a_new_line() -> None:
    out = _Terminal()
    with terminal_bars(out, {}):
        bar = ambient("x")
        assert bar is not None
        bar(0.5, 1.0)
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1


def test_the_command_is_silent_on_a_pipe(tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL_YAML)
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", str(scenario), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )
    assert done.returncode == 0
    assert done.stderr == ""
    assert "\r" not in done.stdout
