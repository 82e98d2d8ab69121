"""explore and shrink: variants around a scenario, and a failure cut down to a small scenario
that still fails the same way, deterministically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests_support import TINY_FAIL

from simulator.cli import main
from simulator.explore import explore
from simulator.explore.concretize import concretize
from simulator.explore.document import load_document, text_of, to_document
from simulator.explore.failure import fails_the_same_way, failure_of
from simulator.explore.variants import variant
from simulator.runner import run
from simulator.scenario.loader import load_text

# The seed's plan with one planned change switched off: the persisted outbox.
NO_OUTBOX = TINY_FAIL.replace("expect:", "profile: proposed\nflags: {outbox: memory}\nexpect:")


def _centre() -> dict[str, object]:
    return to_document(load_text("t.yaml", NO_OUTBOX).scenario)


def test_a_variant_is_a_function_of_the_scenario_and_its_number() -> None:
    centre = _centre()
    first, said = variant(centre, 3)
    again, said_again = variant(centre, 3)
    assert text_of(first) == text_of(again) and said == said_again
    assert text_of(variant(centre, 4)[0]) != text_of(first)
    assert said[0].startswith("seed ") and 2 <= len(said) <= 4
    for index in range(1, 30):
        load_document(variant(centre, index)[0], None)  # every variant loads


def test_a_run_written_down_as_steps_replays_its_writes() -> None:
    document = _centre()
    result = run(load_document(document, None))
    concrete = concretize(document, result)
    writes = [r for r in result.history.records if r.kind.value == "write"]
    assert len(concrete["steps"]) == len(writes)
    assert all(
        d["workload"] == {"entries_per_day": 0, "pieces_per_day": 0} for d in concrete["devices"]
    )
    replayed = run(load_document(concrete, None))
    assert failure_of(replayed) is not None


def test_a_failure_is_shrunk_to_a_small_scenario_that_fails_the_same_way_and_passes_the_plan() -> (
    None
):
    tried = explore.try_variant(text_of(_centre()), None, 1)
    assert tried.failure is not None and tried.failure.bound == "lost_write"
    shrunk = explore.shrink(tried, None, 200)
    small = shrunk.document
    assert len(small["devices"]) <= 3 and len(small.get("steps", [])) <= 5
    assert fails_the_same_way(run(load_document(small, None)), tried.failure)
    assert shrunk.plan_passes is True
    # Deterministic: the same failure shrinks to the same scenario.
    assert text_of(explore.shrink(tried, None, 200).document) == text_of(small)
    header = shrunk.yaml("t.yaml", None).splitlines()[:5]
    assert header[0].startswith("# Shrunk by `syncsim explore` from t.yaml, variant 1")
    assert header[3] == "# Without its flag overrides (the plan) it passes."
    loaded = yaml.safe_load(shrunk.yaml("t.yaml", None))
    assert loaded["flags"] == {"outbox": "memory"}


def test_the_explore_command_writes_the_shrunk_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "no_outbox.yaml"
    scenario.write_text(NO_OUTBOX)
    out = tmp_path / "out"
    args = ["explore", str(scenario), "--budget", "2", "--workers", "2", "--shrink", "1"]
    assert main([*args, "--shrink-budget", "150", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "variant 1: fail: lost_write <= 0" in printed
    facts = json.loads((out / "explore.json").read_text())
    assert [v["index"] for v in facts["variants"]] == [1, 2]
    shrunk = out / "shrunk-1.yaml"
    assert facts["shrunk"][0]["file"] == str(shrunk)
    assert main(["run", str(shrunk), "--out", str(tmp_path / "again")]) == 1  # fails as found
