"""The differential gate's judgement, on literal differences: what it explains and what it
does not."""

from __future__ import annotations

from simulator.live.diff import Differences, Found
from simulator.live.differential import INCONCLUSIVE, TIMING, judge
from simulator.scenario.loader import Loaded, load_text

PLAIN = "duration: 1d\ndevices: [{name: phone}, {name: laptop}]\n"
PRELOADED = PLAIN + "preload: [{entries: 10, over: 60d}]\n"
STORM = "duration: 1d\ndevices: [{name: phone, link: {max_message: 64KB}}]\n"


def loaded(text: str, profile: str = "legacy") -> Loaded:
    return load_text("case.yaml", text, profile)


def differences(
    anomalies: tuple[tuple[str, int, int], ...] = (),
    sim_only: tuple[Found, ...] = (),
    live_only: tuple[Found, ...] = (),
    verdicts: tuple[str, str] = ("pass", "pass"),
    expectations: tuple[tuple[str, str, str], ...] = (),
) -> Differences:
    findings = tuple((a, sim_only, live_only) for a, _, _ in anomalies)
    return Differences(expectations, anomalies, (), (), (), verdicts, (), findings)


def lost(entity_id: str, cause: str) -> Found:
    return Found("logbook_entry", entity_id, ("phone",), cause)


def test_the_same_counts_and_verdicts_agree() -> None:
    assert judge(loaded(PLAIN), differences()) == ([], [])


def test_a_finding_only_live_is_never_explained() -> None:
    d = differences((("lost_write", 2, 3),), live_only=(lost("e9", "frame lost in flight: x"),))
    assert judge(loaded(PLAIN), d) == ([], ["lost_write: simulated 2, live 3"])


def test_fewer_live_coincidences_of_a_frame_and_a_fault_are_timing() -> None:
    d = differences(
        (("lost_write", 3, 2),), sim_only=(lost("e1", "frame lost in flight: partition"),)
    )
    assert judge(loaded(PLAIN), d) == ([("lost_write", 3, 2, TIMING)], [])


def test_fewer_live_findings_of_another_cause_are_not_explained() -> None:
    d = differences((("lost_write", 3, 2),), sim_only=(lost("e1", "lost on reload"),))
    assert judge(loaded(PLAIN), d) == ([], ["lost_write: simulated 3, live 2"])


def test_a_preload_behind_the_window_explains_less_missing_history_live() -> None:
    d = differences(
        (("missing_history", 180, 60),),
        sim_only=(Found("logbook_entry", "e1", ("phone",), "older than the window"),),
        verdicts=("pass", "fail"),
        expectations=(("missing_history >= 100", "pass", "FAIL"),),
    )
    explained, unexplained = judge(loaded(PRELOADED), d)
    assert unexplained == [] and explained[0][0] == "missing_history"
    assert explained[0][3].startswith("preload stamped at the push")
    # Under proposed the window is 30 days: 60 days of preload still reach past it.
    assert judge(loaded(PRELOADED, "proposed"), d)[1] == []
    # More missing history live is never what a preload explains.
    more = differences((("missing_history", 60, 180),))
    assert judge(loaded(PRELOADED), more)[1] == ["missing_history: simulated 60, live 180"]


def test_a_live_run_that_never_went_quiet_is_explained_only_by_a_reconnect_storm() -> None:
    d = differences(verdicts=("pass", "inconclusive"))
    explained, unexplained = judge(loaded(STORM), d)
    assert unexplained == [] and explained[0][0] == INCONCLUSIVE
    assert judge(loaded(STORM, "proposed"), d) == (
        [],
        ["verdict: simulated pass, live inconclusive"],
    )
    assert judge(loaded(PLAIN), d)[1] == ["verdict: simulated pass, live inconclusive"]
