"""The differential gate: every scenario under every profile, simulated and live against a
`syncsim serve` started with that same profile, must reach the same verdict and the same
anomaly counts.

The simulation and the reference server share one model, so a difference is either a bug of
the live path (the proxy, the executor, the observer) or something a live run cannot carry
over. The second kind is listed in `KNOWN`, each with the reason, the anomaly it moves and
the direction it moves it in; a difference outside that list, or one going the other way,
fails the gate. Each case writes the simulated and live reports and a diff.md that lists,
per differing anomaly, the items found only in one of the runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from simulator.checker.preflight import mismatches, preflight_rows
from simulator.live.commands import play
from simulator.live.diff import Differences, Found, diff_report, diff_runs
from simulator.live.managed import ManagedServer
from simulator.report.folder import write_file, write_folder
from simulator.report.render import render
from simulator.scenario.loader import Loaded, load
from simulator.verdict import Run

LIVE_SECONDS = 20.0  # wall seconds a case's live run should take, to pick its time scale
MIN_SCALE, MAX_SCALE = 1000.0, 30000.0


@dataclass(frozen=True)
class KnownDifference:
    """A difference a live run cannot avoid: where `applies` holds for the scenario under a
    profile, the live count of each of `anomalies` may be lower than the simulated one, with
    no item found only live (or, for `INCONCLUSIVE`, the live run may be inconclusive), for
    the reason `why`. An outcome decided by timing the live run cannot reproduce may go
    `either_way`: then items may be found only live, and the counts may differ by at most
    `slack` (a fraction of the simulated count, at least one; None: any)."""

    name: str
    anomalies: frozenset[str]
    why: str
    applies: Callable[[Loaded], bool]
    either_way: bool = False
    slack: float | None = None

    def allows(self, sim: int, live: int, new_items: bool) -> bool:
        if not self.either_way:
            return live < sim and not new_items
        return self.slack is None or abs(live - sim) <= max(1.0, self.slack * sim)


INCONCLUSIVE = "inconclusive"  # the `anomaly` of a KnownDifference that a live run is that


RESOLUTION = 0.005  # wall seconds: below this the event loop does not keep two frames apart


def _races_below_resolution(loaded: Loaded) -> bool:
    scenario = loaded.scenario
    scale = time_scale_for(scenario.duration + scenario.settle)
    return any(hot.within / scale < RESOLUTION for hot in scenario.hot_items)


def _small_quota(loaded: Loaded) -> bool:
    return any(d.quota < 5 * 1024 * 1024 for d in loaded.scenario.devices)


def _catch_up_over_a_link_limit(loaded: Loaded) -> bool:
    # An unchunked catch-up over a device's message limit: closed with 1009, asked again a
    # second later, for as long as the device is online.
    limits = [d.link.max_message for d in loaded.scenario.devices]
    return loaded.profile.bulk_chunk_size == 0 and min(limits) < 1024 * 1024


_RACES = frozenset({"lww_violation", "lost_update", "lost_write", "divergence", "resurrection"})
KNOWN: tuple[KnownDifference, ...] = (
    KnownDifference(
        "edits closer than the event loop keeps apart",
        _RACES,
        "hot_items edits a few seconds apart are under 5 ms of wall time at the gate's time "
        "scale, where the event loop's own delay decides which arrives first: live, the "
        "races come out otherwise than the simulation's latency draws decide them (at 600x "
        "as at the gate's scale), so which edits lose, and how many, differs either way",
        _races_below_resolution,
        either_way=True,
    ),
    KnownDifference(
        "the write that meets a full quota",
        frozenset({"lost_write", "missing_history", "divergence"}),
        "near a small localStorage quota, which write is the first past it depends on the "
        "order local writes and incoming items arrive in: live, other items fail, and the "
        "counts may differ by a tenth either way",
        _small_quota,
        either_way=True,
        slack=0.1,
    ),
    KnownDifference(
        "a reconnect storm runs at wall speed",
        frozenset({INCONCLUSIVE, "sync_requests"}),
        "a device whose unchunked catch-up is over its link's message limit reconnects a "
        "second after each 1009 close; live, every round also takes the wall time of a connect, "
        "a catch-up and a close (tens of scenario seconds at the gate's scale), so the storm "
        "asks fewer times, and may keep the run from ever reaching quiescence",
        _catch_up_over_a_link_limit,
    ),
)


Explained = tuple[str, int, int, str]  # (anomaly, simulated count, live count, why)


@dataclass(frozen=True)
class Case:
    scenario: str
    profile: str
    verdicts: tuple[str, str]  # (simulated, live)
    differences: Differences
    explained: tuple[Explained, ...]
    unexplained: tuple[str, ...]
    time_scale: float
    # What the first live run differed by, when the case was played live a second time.
    first_attempt: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return not self.unexplained


def settle(first: Case, again: Callable[[], Case]) -> Case:
    """A case that differs is played live once more (`again`); the second run decides, and
    what the first differed by stays on the case. The simulated side is the same both times,
    the live side a fresh server and fresh wall-clock races: a difference live runs show one
    time in two is a race at the gate's time scale (scenario seconds are milliseconds), and
    one they show twice is reported."""
    if first.agrees:
        return first
    return replace(again(), first_attempt=first.unexplained)


def time_scale_for(total: float) -> float:
    """A time scale that plays `total` scenario seconds in about LIVE_SECONDS of wall time."""
    return min(MAX_SCALE, max(MIN_SCALE, total / LIVE_SECONDS))


TIMING = (
    "timing: the simulation met a fault at the exact moment a frame was in flight (a write "
    "lost at a partition's start, a broadcast swallowed by a blip); wall time does not hit "
    "the same instant, so live finds fewer such coincidences. Live may also find one the "
    "simulation did not: the server's own answer time (a write's commit before its "
    "broadcast) is seconds of scenario time at the gate's scale, where the simulated server "
    "takes a tenth of a second, so a drop meets more broadcasts on their way; such an item "
    "is explained only where the live history records its frame lost in flight to that "
    "device"
)
_TIMING_CAUSES = ("frame lost in flight", "never received")


def _timing_items(d: Differences) -> set[str]:
    """Items whose only-simulated findings are timing coincidences: a frame lost in flight or
    a change never received; a divergence of such an item follows from it."""
    return {
        f.entity_id
        for name, sim_only, _ in d.findings
        if name != "divergence"
        for f in sim_only
        if f.cause.startswith(_TIMING_CAUSES)
    }


def _items(found: Sequence[Found]) -> set[tuple[str, str]]:
    return {(f.entity_id, f.cause) for f in found}


def _proven_in_flight(found: Found, d: Differences) -> bool:
    """A finding only live whose every device has a frame of that item recorded lost in
    flight in the live history: a coincidence of a frame and a fault, proven."""
    return bool(found.devices) and all(
        (found.entity_id, device) in d.live_in_flight for device in found.devices
    )


def _known(loaded: Loaded, what: str) -> KnownDifference | None:
    return next((k for k in KNOWN if what in k.anomalies and k.applies(loaded)), None)


def judge(loaded: Loaded, d: Differences) -> tuple[list[Explained], list[str]]:
    """The differences `KNOWN` or timing explains, and the others, each said in one line.
    Timing explains a count when every finding only simulated is a timing coincidence and
    every item found only live is one the live history proves (its frame lost in flight to
    each of its devices). A verdict that differs is explained when every
    expectation that differs is about an explained anomaly; a live run that is inconclusive
    only by a `KNOWN` entry for `inconclusive`."""
    explained: list[Explained] = []
    unexplained: list[str] = []
    sim_verdict, live_verdict = d.verdicts
    if live_verdict == "inconclusive" and sim_verdict != "inconclusive":
        known = _known(loaded, INCONCLUSIVE)
        if known is None:
            unexplained.append(f"verdict: simulated {sim_verdict}, live inconclusive")
        else:
            explained.append((INCONCLUSIVE, 0, 1, known.why))
        return explained, unexplained  # an inconclusive run's counts are not judged
    timing = _timing_items(d)
    only = {name: (sim_only, live_only) for name, sim_only, live_only in d.findings}
    for anomaly, sim, live in d.anomalies:
        known = _known(loaded, anomaly)
        sim_only, live_only = only.get(anomaly, ((), ()))
        # An item found live that the simulation found too, for the same cause (between other
        # devices, in a race), is no new finding.
        new = _items(live_only) - _items(sim_only)
        unproven = new - _items([f for f in live_only if _proven_in_flight(f, d)])
        if known is not None and known.allows(sim, live, bool(new)):
            explained.append((anomaly, sim, live, f"{known.name}: {known.why}"))
        elif (live < sim or new) and not unproven and all(f.entity_id in timing for f in sim_only):
            explained.append((anomaly, sim, live, TIMING))
        else:
            unexplained.append(f"{anomaly}: simulated {sim}, live {live}")
    names = {e[0] for e in explained}
    for text, sim_word, live_word in d.expectations:
        name = text.split()[0]  # the anomaly or metric the bound is on
        known = _known(loaded, name)
        if known is not None and name not in names:
            explained.append((name, 0, 0, f"{known.name}: {known.why}"))
        elif name not in names:
            unexplained.append(f"expectation `{text}`: simulated {sim_word}, live {live_word}")
    if sim_verdict != live_verdict and not d.expectations:
        unexplained.append(f"verdict: simulated {sim_verdict}, live {live_verdict}")
    return explained, unexplained


def _play_live(loaded: Loaded, server_profile: str, out: Path) -> tuple[Run, float]:
    """The scenario live against a `syncsim serve` of its own with `server_profile`, at the
    gate's time scale; the run and that scale."""
    scenario = loaded.scenario
    scale = time_scale_for(scenario.duration + scenario.settle)
    server = ManagedServer.create(out / "server", server_profile)
    server.start()
    try:
        return play(loaded, server.target(scale)), scale
    finally:
        server.stop()


def run_case(path: Path, profile: str, out: Path) -> Case:
    loaded = load(path, profile)
    simulated = play(loaded)
    first = _live_case(loaded, simulated, profile, out)
    return settle(first, lambda: _live_case(loaded, simulated, profile, out / "again"))


def _live_case(loaded: Loaded, simulated: Run, profile: str, out: Path) -> Case:
    """One live run of the case against `simulated`, judged, its reports written to `out`
    (a second run's in `again/` beside the first's)."""
    live, scale = _play_live(loaded, profile, out)
    _write_reports(simulated, live, out)
    d = diff_runs(simulated, live)
    explained, unexplained = judge(loaded, d)
    name = loaded.scenario.name
    case = Case(name, profile, d.verdicts, d, tuple(explained), tuple(unexplained), scale)
    write_file(out / "diff.md", diff_report(name, d) + _case_notes(case))
    return case


@dataclass(frozen=True)
class Mismatch:
    """A client profile run against a server started with another profile."""

    scenario: str
    client: str
    server: str
    verdict: str
    named: tuple[str, ...]  # the preflight's mismatches, each in one line
    doubts: tuple[str, ...]

    @property
    def holds(self) -> bool:
        """The preflight named the mismatch."""
        return bool(self.named)


def mismatch_case(path: Path, client: str, server_profile: str, out: Path) -> Mismatch:
    loaded = load(path, client)
    live, _ = _play_live(loaded, server_profile, out)
    write_folder(out / "live", render(live))
    named = tuple(mismatches(preflight_rows(live.history)))
    name = loaded.scenario.name
    return Mismatch(name, client, server_profile, live.verdict.value, named, live.result.doubts)


def _write_reports(simulated: Run, live: Run, out: Path) -> None:
    write_folder(out / "sim", render(simulated))
    write_folder(out / "live", render(live))


def _case_notes(case: Case) -> str:
    lines = ["", "## The gate", ""]
    lines += [
        f"- explained, {a}: simulated {s}, live {v}: {why}" for a, s, v, why in case.explained
    ]
    lines += [f"- UNEXPLAINED {text}" for text in case.unexplained]
    if case.agrees:
        lines.append("- agrees")
    return "\n".join(lines) + "\n"


def _result(case: Case) -> str:
    if not case.agrees:
        return "DIFFERS: " + "; ".join(case.unexplained)
    if case.first_attempt:
        return "agrees on a second live run (the first: " + "; ".join(case.first_attempt) + ")"
    if case.explained:
        return "agrees (explained: " + ", ".join(a for a, *_ in case.explained) + ")"
    return "agrees"


def markdown(cases: Sequence[Case]) -> str:
    lines = ["# Differential gate: simulated against live (`syncsim serve`, same profile)", ""]
    lines += [
        "| scenario | profile | time scale | simulated | live | result |",
        "|---|---|---|---|---|---|",
    ]
    for c in cases:
        lines.append(
            f"| {c.scenario} | {c.profile} | {c.time_scale:g} | {c.verdicts[0]} | "
            f"{c.verdicts[1]} | {_result(c)} |"
        )
    return "\n".join(lines) + "\n"


def as_json(cases: Sequence[Case]) -> str:
    body = [
        {
            "scenario": c.scenario,
            "profile": c.profile,
            "time_scale": c.time_scale,
            "verdicts": {"simulated": c.verdicts[0], "live": c.verdicts[1]},
            "anomalies": [
                {"anomaly": a, "simulated": s, "live": v} for a, s, v in c.differences.anomalies
            ],
            "explained": [{"anomaly": a, "why": why} for a, _, _, why in c.explained],
            "unexplained": list(c.unexplained),
            "first_attempt": list(c.first_attempt),
            "agrees": c.agrees,
        }
        for c in cases
    ]
    return json.dumps(body, indent=2) + "\n"
