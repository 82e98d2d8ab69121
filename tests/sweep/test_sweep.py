"""Sweeps: seeds parsed, every seed run (locally or on a dask cluster), judged over all of them,
a crash kept with its traceback, and the table and report written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tests_support import TINY_FAIL, TINY_PASS

from simulator.cli import main
from simulator.errors import ScenarioError, UsageError
from simulator.scenario.loader import load_text
from simulator.sweep import engine
from simulator.sweep.judge import judge_sweep
from simulator.sweep.result import SeedResult
from simulator.sweep.seed_run import run_seed
from simulator.sweep.seeds import parse_seeds


def test_seed_lists() -> None:
    assert parse_seeds("1-3,7,2, 9-10") == [1, 2, 3, 7, 9, 10]
    for bad in ("x", "5-2", "-1", "1-"):
        with pytest.raises(UsageError):
            parse_seeds(bad)


def _result(seed: int, *failed: str, **values: float) -> SeedResult:
    verdict = "fail" if failed else "pass"
    texts = tuple(f"{name} <= 0: got 1" for name in failed)
    return SeedResult(seed, verdict, {"lost_write": 0.0, **values}, failed, texts)


BOUNDED = TINY_PASS.replace(
    "expect:\n  payload: 0\n",
    "expect:\n  payload: 0\n  lost_write: {lte: 0, seeds_failing: 1}\n"
    "  resurrection: {seeds_failing: 0}\n  p95_convergence_lag: {q95: 10s, max: 1m}\n",
)


def test_every_bound_holds_on_every_seed_unless_it_allows_some() -> None:
    loaded = load_text("b.yaml", BOUNDED)
    lag = {"p95_convergence_lag": 5.0}
    results = [
        _result(1, **lag),
        _result(2, "lost_write", **lag),
        _result(3, "payload", **lag),
        _result(4, resurrection=2.0, **lag),
    ]
    verdict = judge_sweep(loaded, results)
    shown = {o.text: (o.holds, o.found) for o in verdict.outcomes}
    assert shown["lost_write fails on at most 1 seeds"] == (True, "1 of 4 seeds fail: 2")
    assert shown["payload holds on every seed"] == (False, "1 of 4 seeds fail: 3")
    # An anomaly bounded only over the seeds: a seed fails it by finding any.
    assert shown["resurrection holds on every seed"] == (False, "1 of 4 seeds fail: 4")
    assert shown["p95_convergence_lag q95 over seeds <= 10 s"][0]
    assert not verdict.passed


def test_a_known_gap_must_show_on_some_seed_and_has_gone_only_when_it_shows_on_none() -> None:
    gap = TINY_PASS.replace(
        "expect:\n  payload: 0\n",
        'expect:\n  payload: 0\n  lost_write: {lte: 0, known_gap: "sent and forgotten"}\n',
    )
    loaded = load_text("g.yaml", gap)
    # A seed where the gap shows passes its bound's known gap; one where it does not is a
    # strict XPASS of that seed alone, which says nothing about the system.
    some = [_result(1), _result(2, "lost_write"), _result(3)]
    shown = {o.text: (o.holds, o.found, o.seeds) for o in judge_sweep(loaded, some).outcomes}
    name = "known gap lost_write shows on some seed (sent and forgotten)"
    assert shown[name] == (True, "shows on 2 of 3 seeds", ())
    gone = [_result(1, "lost_write"), _result(2, "lost_write")]
    verdict = judge_sweep(loaded, gone)
    shown = {o.text: (o.holds, o.found, o.seeds) for o in verdict.outcomes}
    assert shown[name] == (False, "shows on 0 of 2 seeds", (1, 2))
    assert not verdict.passed


def test_quantiles_over_the_seeds() -> None:
    loaded = load_text("b.yaml", BOUNDED)
    results = [_result(s, p95_convergence_lag=float(s)) for s in range(1, 101)]
    shown = {o.text: (o.holds, o.found) for o in judge_sweep(loaded, results).outcomes}
    assert shown["p95_convergence_lag q95 over seeds <= 10 s"] == (
        False,
        "95.05 (seconds, over 100 seeds)",
    )
    assert shown["p95_convergence_lag max over seeds <= 60 s"][0] is False


def test_a_bound_over_seeds_on_a_metric_needs_a_bound_a_seed_can_fail() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text("b.yaml", TINY_PASS + "  bytes_sent: {seeds_failing: 0}\n")
    assert caught.value.field == "expect.bytes_sent.seeds_failing"


def test_a_run_that_crashes_comes_back_with_its_traceback() -> None:
    crashed = run_seed("x.yaml", "duration: [", None, 3)
    assert crashed.verdict == "crash" and crashed.seed == 3
    assert crashed.error is not None and "Traceback" in crashed.error
    loaded = load_text("t.yaml", TINY_PASS)
    outcome = judge_sweep(loaded, [crashed]).outcomes[0]
    assert (outcome.text, outcome.holds, outcome.seeds) == ("no seed crashes", False, (3,))


def test_local_workers_run_every_seed_once(tmp_path: Path) -> None:
    results = list(engine.local("t.yaml", TINY_FAIL, "legacy", [1, 2, 3], 2, tmp_path / "kept"))
    assert sorted(r.seed for r in results) == [1, 2, 3]
    assert {r.verdict for r in results} == {"fail"}
    assert all(r.report and (Path(r.report) / "report.html").is_file() for r in results)
    again = run_seed("t.yaml", TINY_FAIL, "legacy", 2)
    assert next(r for r in results if r.seed == 2).history_hash == again.history_hash


def test_a_dask_cluster_runs_the_same_seeds_the_same_way() -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        remote = list(
            engine.on_cluster(cluster.scheduler_address, "t.yaml", TINY_PASS, None, [4, 5, 6], None)
        )
    local = list(engine.local("t.yaml", TINY_PASS, None, [4, 5, 6], 1, None))
    by_seed = {r.seed: r.history_hash for r in local}
    assert {r.seed: r.history_hash for r in remote} == by_seed


@pytest.mark.slow  # a sweep with its report (6.5 s of CPU)
def test_the_sweep_command_writes_the_table_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "tiny_fail.yaml"
    scenario.write_text(TINY_FAIL)
    out = tmp_path / "out"
    assert (
        main(["sweep", str(scenario), "--seeds", "1-4", "--workers", "2", "--out", str(out)]) == 1
    )
    printed = capsys.readouterr().out
    assert "tiny_fail: FAIL over 4 seeds (profile legacy)" in printed
    assert "FAILED lost_write holds on every seed: 4 of 4 seeds fail: 1, 2, 3, 4" in printed
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["seed"]) == [1, 2, 3, 4] and set(table["verdict"]) == {"fail"}
    facts = json.loads((out / "sweep.json").read_text())
    assert facts["failing"][0]["command"] == f"syncsim run {scenario} --seed 1 --profile legacy"
    assert (out / "seeds" / "seed-1" / "report.html").is_file()
    html = (out / "sweep.html").read_text()
    assert "Seeds to look at" in html and "anomalies_over_seeds" in html
    assert not (out / "seeds.partial.csv").exists()
    assert (
        main(
            [
                "sweep",
                str(scenario),
                "--seeds",
                "1-2",
                "--profile",
                "proposed",
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )


def _sweep(tmp_path: Path, name: str, text: str, seeds: str, profile: str) -> Path:
    scenario = tmp_path / f"{name}.yaml"
    scenario.write_text(text)
    out = tmp_path / name
    # --keep none: a failing seed's full report (plots and all) costs more than its run, and
    # a compare reads only the per-seed table.
    args = ["sweep", str(scenario), "--seeds", seeds, "--profile", profile, "--out", str(out)]
    main([*args, "--keep", "none"])
    return out


@pytest.mark.slow  # two sweeps of many seeds (15 s of CPU)
def test_sweeps_compared_seed_noise_is_not_worse_and_a_broken_flag_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = _sweep(tmp_path, "base", TINY_FAIL, "1-30", "legacy")
    other_seeds = _sweep(tmp_path, "again", TINY_FAIL, "31-60", "legacy")
    capsys.readouterr()
    assert main(["compare", str(base), str(other_seeds)]) == 0
    assert "NEW is not worse than BASE (no shift" in capsys.readouterr().out
    plan = _sweep(tmp_path, "plan", TINY_FAIL, "1-30", "proposed")
    memory = TINY_FAIL.replace("expect:", "flags: {outbox: memory}\nexpect:")
    broken = _sweep(tmp_path, "broken", memory, "1-30", "proposed")
    capsys.readouterr()
    assert main(["compare", str(plan), str(broken)]) == 1
    printed = capsys.readouterr().out
    assert "NEW is worse than BASE: lost_write" in printed
    facts = json.loads((tmp_path / "reports/compare/latest/compare.json").read_text())
    lost = next(s for s in facts["shifts"] if s["name"] == "lost_write")
    assert lost["result"] == "worse" and lost["effect"] > 0.5 and lost["adjusted"] < 0.01
    # The other way round, the plan loses no write: better on lost_write (it pays for that in
    # resends and outbox depth, which compare names as worse).
    main(["compare", str(broken), str(plan)])
    facts = json.loads((tmp_path / "reports/compare/latest/compare.json").read_text())
    assert next(s for s in facts["shifts"] if s["name"] == "lost_write")["result"] == "better"
