"""bench/run.py on tiny inputs: the table's structure, the exit status and the event counts.

Never its timings: a figure measured here may be met or not, and only what the table and the
exit status say about it is checked.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
import simpy

PATH = Path(__file__).resolve().parents[1] / "bench" / "run.py"
FIGURES = [
    "sim_vs_simpy",
    "linear_in_time",
    "linear_in_ops",
    "checker_vs_load",
    "checker_growth",
    "report_share",
    "serve_vs_echo",
    "serve_vs_echo_p99",
]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cells(line: str) -> list[str]:
    assert line.startswith("| ") and line.endswith(" |"), line
    return [cell.strip() for cell in line[2:-2].split(" | ")]


def rows(text: str) -> list[list[str]]:
    """The table's header and rows (the lines before the notes), without the rule."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert set(lines[1]) <= {"|", "-"}, lines[1]
    return [cells(line) for line in [lines[0], *lines[2:]]]


def test_the_table_says_for_each_figure_whether_its_target_is_met(bench: ModuleType) -> None:
    figures = [
        bench.Figure("under", "1.00 s", "2.00 s", 2.0, 3.0, "half the target"),
        bench.Figure("at", "1.00 s", "1.50 s", 1.5, 1.5),
        bench.Figure("over", "1.00 s", "12.50 s", 12.5, 11.0, "missed"),
    ]
    text = bench.table(figures)
    header, *body = rows(text)
    assert header == ["figure", "baseline", "measured", "ratio", "target", "met?"]
    assert body == [
        ["under", "1.00 s", "2.00 s", "2.00", "<= 3", "yes"],
        ["at", "1.00 s", "1.50 s", "1.50", "<= 1.5", "yes"],
        ["over", "1.00 s", "12.50 s", "12.50", "<= 11", "no"],
    ]
    assert "- under: half the target" in text and "- over: missed" in text
    assert bench.exit_code(figures) == 1
    assert bench.exit_code(figures[:2]) == 0


def test_the_bare_loop_processes_the_events_asked_for(bench: ModuleType) -> None:
    for events in (5, 100, 1001, 30_000):
        assert events - 2 <= bench.bare_events(events) <= events


def test_events_are_counted_as_processed(bench: ModuleType) -> None:
    env = simpy.Environment()
    for delay in (1, 2, 3):
        env.timeout(delay)
    count = bench.counting(env)
    env.run()
    assert count == [3]
    env.timeout(1)
    env.timeout(100)  # after the end: scheduled, never processed
    env.run(until=50)
    assert count == [3 + 1 + 1]  # one timeout and the `until` event


@pytest.mark.slow  # every bench figure, servers included (7 s of CPU)
def test_a_tiny_measurement_fills_every_figure(bench: ModuleType) -> None:
    tiny = bench.Sizes(
        repeats=1, sim_hours=2, sim_rate=40, ops_hours=1, ops_rate=100, connections=3, messages=2
    )
    first = bench.counted_run(bench.scenario(2, 40, 2 / 7))
    again = bench.counted_run(bench.scenario(2, 40, 2 / 7))
    assert first.events == again.events > 0 and first.writes == again.writes
    figures = bench.measure(tiny)
    assert [f.name for f in figures] == FIGURES
    assert all(math.isfinite(f.ratio) and f.ratio > 0 and f.note for f in figures)
    assert [f.target for f in figures] == [3.0, 1.1, 11.0, 1.5, 1.2, 0.2, 2.0, 2.0]
    header, *body = rows(bench.table(figures))
    assert len(header) == 6 and [row[0] for row in body] == FIGURES
    assert [row[5] for row in body] == ["yes" if f.met else "no" for f in figures]
    assert bench.exit_code(figures) == (0 if all(f.met for f in figures) else 1)


def test_main_prints_the_table_and_exits_1_on_a_missed_target(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[object] = []
    met = bench.Figure("fast", "1 s", "1 s", 1.0, 3.0)
    missed = bench.Figure("slow", "1 s", "4 s", 4.0, 3.0)
    outcome = [met, missed]
    monkeypatch.setattr(bench, "measure", lambda sizes: asked.append(sizes) or outcome)
    assert bench.main(["--quick"]) == 1
    out, err = capsys.readouterr()
    assert [row[5] for row in rows(out)[1:]] == ["yes", "no"]
    assert "target missed: slow" in err
    outcome = [met]
    assert bench.main([]) == 0
    assert asked == [bench.QUICK, bench.FULL]


def test_a_pass_gives_its_rate_and_the_nearest_rank_99th_percentile(bench: ModuleType) -> None:
    run = bench.Pass(2.0, [i / 1000 for i in range(200, 0, -1)])
    assert run.rate == 100.0
    assert run.p99 == 0.198  # the 198th of 200 in order
    assert bench.Pass(1.0, [0.5]).p99 == 0.5


def test_the_load_generator_checks_every_answer(bench: ModuleType) -> None:
    echo = bench.start_subprocess(
        [sys.executable, str(bench.BENCH / "echo_server.py"), "--port", "0"], bench.ECHO_LINE
    )
    try:
        sizes = bench.Sizes(1, 1, 1, 1, 1, connections=2, messages=3)
        run = bench.drive(bench.load(echo.url, sizes, 0, echo=True))
        assert len(run.latencies) == 6 and run.seconds > 0
        acks = bench.load(echo.url, sizes, 1, echo=False)  # the echo sends no ACK
        with pytest.raises(RuntimeError, match="unexpected answer"):
            bench.drive(bench.Load(acks.urls, acks.frames, welcome=False))
    finally:
        bench.stop_subprocess(echo)
    assert echo.process.returncode == 0
