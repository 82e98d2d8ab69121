"""`syncsim diff`: where a scenario's simulated and live runs disagree.

Two runs of one scenario are compared on what matters to a user: each expectation's verdict,
each anomaly count, and the server's final state (which items it holds, with which value).
Timing differs by nature (wall time, real sockets), so metrics are shown, never judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simulator.history import IN_FLIGHT, SERVER, Kind, Record
from simulator.verdict import Run

# What a snapshot row keeps of an item beside its fingerprint, and the name a user knows it by.
# An entry's identity is a digest of what was typed (everything but its ids and stamps).
_COMPARED = (
    ("updated_at", "updatedAt"),
    ("content", "content"),
    ("title", "title"),
    ("composer", "composer"),
)


@dataclass(frozen=True, order=True)
class Found:
    """One finding as both runs can name it: the item, its devices and its cause."""

    entity_type: str
    entity_id: str
    devices: tuple[str, ...]
    cause: str

    def __str__(self) -> str:
        cause = f" ({self.cause})" if self.cause else ""
        return f"{self.entity_type} {self.entity_id} on {','.join(self.devices) or '-'}{cause}"


@dataclass(frozen=True)
class Differences:
    expectations: tuple[tuple[str, str, str], ...]  # (expectation, sim, live)
    anomalies: tuple[tuple[str, int, int], ...]
    only_sim: tuple[str, ...]  # items the simulated server ends with, and the live one not
    only_live: tuple[str, ...]
    different_value: tuple[tuple[str, tuple[str, ...]], ...]  # (item id, fields that differ)
    verdicts: tuple[str, str] = ("pass", "pass")  # (simulated, live)
    live_doubts: tuple[str, ...] = ()
    # Per differing anomaly, the findings only one run has: (anomaly, only simulated, only live)
    findings: tuple[tuple[str, tuple[Found, ...], tuple[Found, ...]], ...] = ()
    # (item id, device) of every frame the live history records lost on its way to or from
    # a device when its connection ended: the evidence that a finding was a coincidence.
    live_in_flight: frozenset[tuple[str, str]] = frozenset()

    @property
    def verdicts_differ(self) -> bool:
        return bool(self.expectations or self.anomalies or self.verdicts[0] != self.verdicts[1])


def _server_state(run: Run) -> dict[tuple[str, str, str], Record]:
    return {
        (str(r.user), str(r.entity_type), str(r.entity_id)): r
        for r in run.history
        if r.kind is Kind.SNAPSHOT and r.device == SERVER and r.op == "live"
    }


def _field(row: Record, name: str) -> object:
    return row.updated_at if name == "updated_at" else (row.detail or {}).get(name)


def differing_fields(simulated: Record, live: Record) -> tuple[str, ...]:
    """Which of the fields the snapshot rows keep differ between two stored values of one
    item; `other fields` when only the fingerprint tells them apart (createdAt, device_id or
    a field the server adds)."""
    named = tuple(
        label for name, label in _COMPARED if _field(simulated, name) != _field(live, name)
    )
    return named or ("other fields",)


def _found(run: Run, anomaly: str) -> set[Found]:
    return {
        Found(f.entity_type or "-", f.entity_id or "-", f.devices, f.cause or "")
        for f in run.result.findings
        if f.anomaly.value == anomaly
    }


def _finding_differences(
    simulated: Run, live: Run, anomalies: tuple[tuple[str, int, int], ...]
) -> tuple[tuple[str, tuple[Found, ...], tuple[Found, ...]], ...]:
    out = []
    for name, _, _ in anomalies:
        sim, seen = _found(simulated, name), _found(live, name)
        out.append((name, tuple(sorted(sim - seen)), tuple(sorted(seen - sim))))
    return tuple(out)


def diff_runs(simulated: Run, live: Run) -> Differences:
    verdicts = {o.expectation.text: o.passed for o in simulated.outcomes}
    expectations = tuple(
        (o.expectation.text, _word(verdicts.get(o.expectation.text)), _word(o.passed))
        for o in live.outcomes
        if verdicts.get(o.expectation.text) != o.passed
    )
    sim_counts, live_counts = simulated.result.counts, live.result.counts
    anomalies = tuple(
        (name, sim_counts[name], live_counts.get(name, 0))
        for name in sim_counts
        if sim_counts[name] != live_counts.get(name, 0)
    )
    sim_state, live_state = _server_state(simulated), _server_state(live)
    return Differences(
        expectations,
        anomalies,
        tuple(sorted(k[2] for k in sim_state.keys() - live_state.keys())),
        tuple(sorted(k[2] for k in live_state.keys() - sim_state.keys())),
        tuple(
            sorted(
                (k[2], differing_fields(sim_state[k], live_state[k]))
                for k in sim_state.keys() & live_state.keys()
                if sim_state[k].fingerprint != live_state[k].fingerprint
            )
        ),
        (simulated.verdict.value, live.verdict.value),
        live.result.doubts,
        _finding_differences(simulated, live, anomalies),
        lost_in_flight(live.history),
    )


def lost_in_flight(history: Iterable[Record]) -> frozenset[tuple[str, str]]:
    """(item, device) of every frame a live history records lost in flight when its
    connection closed: the evidence `Differences.live_in_flight` holds."""
    return frozenset(
        (str(r.entity_id), str(r.device))
        for r in history
        if r.kind is Kind.FRAME_LOST and r.entity_id and (r.reason or "").startswith(IN_FLIGHT)
    )


def _word(passed: bool | None) -> str:
    return "-" if passed is None else ("pass" if passed else "FAIL")


def diff_report(name: str, d: Differences, warnings: Sequence[str] = ()) -> str:
    lines = [f"# {name}: simulated against live", ""]
    lines += [f"**Warning:** {warning}" for warning in warnings]
    lines += [""] if warnings else []
    lines += [f"Verdicts: simulated {d.verdicts[0].upper()}, live {d.verdicts[1].upper()}.", ""]
    lines += [f"- live run inconclusive: {reason}" for reason in d.live_doubts]
    if not d.verdicts_differ:
        lines.append("Same verdict on every expectation and the same anomaly counts.")
    for text, sim, live in d.expectations:
        lines.append(f"- expectation `{text}`: simulated {sim}, live {live}")
    for anomaly, sim_count, live_count in d.anomalies:
        lines.append(f"- {anomaly}: simulated {sim_count}, live {live_count}")
    for anomaly, only_sim, only_live in d.findings:
        lines += [f"  - {anomaly} only simulated: {text}" for text in only_sim[:20]]
        lines += [f"  - {anomaly} only live: {text}" for text in only_live[:20]]
    lines += ["", _state_line(d)]
    for label, ids in (("only simulated", d.only_sim), ("only live", d.only_live)):
        if ids:
            lines.append(f"- {label}: {_ids(ids)}")
    for fields, ids in _by_fields(d.different_value):
        lines.append(f"- different {', '.join(fields)}: {_ids(ids)}")
    return "\n".join(lines) + "\n"


def _state_line(d: Differences) -> str:
    line = (
        f"Server final state: {len(d.only_sim)} items only in the simulation, "
        f"{len(d.only_live)} only live, {len(d.different_value)} with another value"
    )
    if any("updatedAt" in fields for _, fields in d.different_value):
        line += (
            " (a write is stamped with its device's clock when it is made, and live that"
            " instant is not the simulation's, so an updatedAt differs even where the rest"
            " is the same)"
        )
    return line + "."


def _by_fields(
    different: tuple[tuple[str, tuple[str, ...]], ...],
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The differing items grouped by which fields differ, the largest group first."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for entity_id, fields in different:
        groups.setdefault(fields, []).append(entity_id)
    return sorted(((f, tuple(ids)) for f, ids in groups.items()), key=lambda g: -len(g[1]))


def _ids(ids: Sequence[str]) -> str:
    return f"{', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"
