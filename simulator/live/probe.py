"""`syncsim probe`: the conformance suite (scenarios/conformance/, one scripted probe per
server rule of PROTOCOL.md) played live against an endpoint, and the suite's own test.

Each probe runs under a user of its own (`syncsim-probe-<rule>-<random>`), so probes never see
each other's data, nor what an earlier run left on a server that keeps its database. A probe
passes when its run passes: no `protocol_violation` (and whatever else it bounds).

The mutation test (`syncsim probe --mutation`, `make conformance`) proves the probes can fail:
it starts a `syncsim serve` of its own and requires every probe to pass against it, then, for
each rule, a `syncsim serve --break RULE` against which that rule's probe must not pass and
must find its rule broken.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from simulator.checker.names import Anomaly
from simulator.live.commands import LiveTarget, play
from simulator.live.managed import ManagedServer
from simulator.scenario.loader import Loaded, load
from simulator.verdict import Run, Verdict

SUITE = Path(__file__).resolve().parents[2] / "scenarios" / "conformance"
TIME_SCALE = 60.0  # scenario seconds per wall second: a probe's three minutes in three seconds


@dataclass(frozen=True)
class ProbeResult:
    rule: str
    run: Run
    violations: Counter[str]  # protocol_violation findings by the rule they name
    broken: str | None = None  # the rule the server broke on purpose (mutation test)

    @property
    def verdict(self) -> Verdict:
        return self.run.verdict

    @property
    def holds(self) -> bool:
        """Against a server following the protocol: the probe passes. Against one breaking
        the probe's rule: the probe does not pass, and finds that rule broken."""
        if self.broken is None:
            return self.verdict is Verdict.PASS
        return self.verdict is not Verdict.PASS and self.violations[self.rule] > 0


def probes(suite: Path, only: Sequence[str] = ()) -> list[Path]:
    found = sorted(suite.glob("*.yaml"))
    return [p for p in found if not only or p.stem in only]


def own_user(loaded: Loaded, rule: str) -> Loaded:
    """The probe under a user no one else uses."""
    user = f"syncsim-probe-{rule}-{secrets.token_hex(4)}"
    devices = tuple(d.model_copy(update={"user": user}) for d in loaded.scenario.devices)
    return replace(loaded, scenario=loaded.scenario.model_copy(update={"devices": devices}))


def run_probe(
    path: Path, target: LiveTarget, profile: str | None = None, broken: str | None = None
) -> ProbeResult:
    loaded = own_user(load(path, profile), path.stem)
    result = play(loaded, target)
    found = Counter(
        str(f.cause) for f in result.result.findings if f.anomaly is Anomaly.PROTOCOL_VIOLATION
    )
    return ProbeResult(path.stem, result, found, broken)


def mutation_case(path: Path, folder: Path, profile: str, broken: str | None) -> ProbeResult:
    """One probe against a `syncsim serve` started for it (breaking `broken`, if given)."""
    server = ManagedServer.create(folder, profile, () if broken is None else (broken,))
    server.start()
    try:
        return run_probe(path, server.target(TIME_SCALE), profile, broken)
    finally:
        server.stop()


def table(results: Sequence[ProbeResult]) -> str:
    """The results as Markdown: a row per probe."""
    lines = [
        "| probe | server | verdict | its rule broken | other rules broken | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        others = ", ".join(f"{k} {v}" for k, v in sorted(r.violations.items()) if k != r.rule)
        server = "follows the protocol" if r.broken is None else f"breaks {r.broken}"
        result = "holds" if r.holds else "**DOES NOT HOLD**"
        lines.append(
            f"| {r.rule} | {server} | {r.verdict.value} | {r.violations[r.rule]} | "
            f"{others or '-'} | {result} |"
        )
    return "\n".join(lines) + "\n"
