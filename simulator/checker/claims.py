"""Precise expectations: what a scripted scenario says exactly, beside the bounds on counts.

Three keys of an `expect:` block (and of each `expect_by_profile:` block, whose keys replace
the same keys of `expect:`):

    final:                      # how named items end, on the server unless `where` says
      E1: {from_step: s3}       # holding the write step s3 made
      E2: deleted               # not live (a tombstone, or gone)
      E3: {state: absent, where: [server, phone]}   # never stored there at all
      E4: [{from_step: s5}, {from_step: s6, where: [phone]}]  # one item, apart per holder
    findings:                   # findings that must be there
      - {anomaly: lost_write, item: E1, cause: reload}
    only_listed: true           # and no other finding

An item is named by the step that created it (`item:`). The holders are `where`, not `on`,
which YAML reads as true. `cause` matches a finding's cause as text, case aside (a
protocol_violation's cause is the rule's name). Every name is checked when the scenario loads.
A claim is judged from the history alone: write rows name the step and item that made them,
so a saved history is judged the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.checker.expectations import CLAIM_KEYS, BadExpectation, Outcome
from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import Held, Key, View, tuples
from simulator.history import SERVER, Kind

__all__ = ["CLAIM_KEYS", "Claim", "Names", "judge_claims", "parse"]
STATES = ("deleted", "absent")


@dataclass(frozen=True)
class Claim:
    """One precise expectation. `name` is its key (`final`, `findings`, `only_listed`)."""

    name: str
    text: str
    item: str | None = None
    state: str | None = None  # deleted, absent, or None (then `step` says which write)
    step: str | None = None
    on: tuple[str, ...] = (SERVER,)
    anomaly: str | None = None
    cause: str | None = None
    known_gap: str | None = None


@dataclass(frozen=True)
class Names:
    """What a claim may name: the scenario's items, the steps that write, and its devices."""

    items: frozenset[str]
    writing_steps: frozenset[str]
    devices: frozenset[str]


def parse(block: Mapping[str, Any], names: Names) -> list[Claim]:
    claims: list[Claim] = []
    if "final" in block:
        claims += _finals(block["final"], names)
    if "findings" in block:
        claims += _findings(block["findings"], names)
    if "only_listed" in block:
        listed = block["only_listed"]
        if not isinstance(listed, bool):
            raise BadExpectation(("only_listed",), "must be true or false")
        if listed:
            claims.append(Claim("only_listed", "no finding but those listed"))
    return claims


def _finals(spec: object, names: Names) -> list[Claim]:
    if not isinstance(spec, Mapping):
        raise BadExpectation(("final",), "must map item names to how they end")
    claims = []
    for item, how in spec.items():
        path = ("final", str(item))
        if item not in names.items:
            known = ", ".join(sorted(names.items)) or "none"
            raise BadExpectation(path, f"no step creates an item {item!r}; items: {known}")
        for index, one in enumerate(how if isinstance(how, list) else [how]):
            where = (*path, str(index)) if isinstance(how, list) else path
            fields = {"state": one} if isinstance(one, str) else one
            allowed = {"from_step", "state", "where"}
            if not isinstance(fields, Mapping) or not set(fields) <= allowed:
                raise BadExpectation(where, "expected deleted, absent or {from_step, state, where}")
            claims.append(_final(str(item), fields, names, where))
    return claims


def _final(item: str, fields: Mapping[str, Any], names: Names, path: tuple[str, ...]) -> Claim:
    step, state = fields.get("from_step"), fields.get("state")
    if (step is None) == (state is None):
        raise BadExpectation(path, "give one of from_step (a step's name) or deleted / absent")
    if state is not None and state not in STATES:
        raise BadExpectation((*path, "state"), f"must be one of {', '.join(STATES)}")
    if step is not None and step not in names.writing_steps:
        known = ", ".join(sorted(names.writing_steps)) or "none"
        raise BadExpectation((*path, "from_step"), f"no step named {step!r} writes; named: {known}")
    where = fields.get("where", [SERVER])
    holders = [where] if isinstance(where, str) else where
    if not isinstance(holders, list) or not holders:
        raise BadExpectation((*path, "where"), "must be server, a device, or a list of them")
    for holder in holders:
        if holder != SERVER and holder not in names.devices:
            message = f"unknown holder {holder!r}: server or a device"
            raise BadExpectation((*path, "where"), message)
    how = f"as written by step {step}" if step is not None else str(state)
    text = f"{item} ends {how} on {', '.join(holders)}"
    return Claim("final", text, item, state, step, tuple(holders))


def _findings(spec: object, names: Names) -> list[Claim]:
    if not isinstance(spec, list):
        raise BadExpectation(("findings",), "must be a list of {anomaly, item, cause}")
    claims = []
    for index, listed in enumerate(spec):
        path = ("findings", str(index))
        if not isinstance(listed, Mapping) or not set(listed) <= {"anomaly", "item", "cause"}:
            raise BadExpectation(path, "expected {anomaly, item, cause}")
        anomaly = listed.get("anomaly")
        if anomaly not in {a.value for a in Anomaly}:
            known = ", ".join(a.value for a in Anomaly)
            raise BadExpectation((*path, "anomaly"), f"unknown anomaly {anomaly!r}; known: {known}")
        item, cause = listed.get("item"), listed.get("cause")
        if item is not None and item not in names.items:
            raise BadExpectation((*path, "item"), f"no step creates an item {item!r}")
        if cause is not None and not isinstance(cause, str):
            raise BadExpectation((*path, "cause"), "must be text")
        text = f"a {anomaly} finding" + (f" on {item}" if item else "")
        text += f" caused by {cause!r}" if cause else ""
        claims.append(Claim("findings", text, item, anomaly=str(anomaly), cause=cause))
    return claims


# -- judging -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """Where the history says a named item lives and what a named step wrote."""

    items: dict[str, Key]
    steps: dict[str, tuple[Any, ...]]  # step -> (write id, fingerprint, updatedAt, op)


def _written(view: View) -> Written:
    items: dict[str, Key] = {}
    steps: dict[str, tuple[Any, ...]] = {}
    for row in tuples(view.rows(Kind.WRITE)):
        tag = row.detail if isinstance(row.detail, dict) else {}
        if isinstance(tag.get("item"), str):  # the create comes first: it names the item
            items.setdefault(tag["item"], (row.user, row.entity_type, row.entity_id))
        if isinstance(tag.get("step"), str):
            steps[tag["step"]] = (row.write_id, row.fingerprint, row.updated_at, row.op)
    return Written(items, steps)


def judge_claims(claims: Sequence[Claim], view: View, findings: Sequence[Finding]) -> list[Outcome]:
    if not claims:
        return []
    written = _written(view)
    listed = [c for c in claims if c.name == "findings"]
    outcomes = []
    for claim in claims:
        if claim.name == "final":
            holds, shown = _final_holds(claim, view, written)
        elif claim.name == "findings":
            matches = [f for f in findings if _matches(claim, f, written)]
            holds, shown = bool(matches), f"{len(matches)} such finding(s)"
        else:
            extra = [f for f in findings if not any(_matches(c, f, written) for c in listed)]
            holds = not extra
            shown = "none other" if holds else f"{len(extra)} other(s): {extra[0].summary}"
        outcomes.append(Outcome(claim, 1.0 if holds else 0.0, holds, shown))
    return outcomes


def _matches(claim: Claim, finding: Finding, written: Written) -> bool:
    if finding.anomaly.value != claim.anomaly:
        return False
    if claim.item is not None:
        key = written.items.get(claim.item)
        if key is None or (finding.entity_type, finding.entity_id) != key[1:]:
            return False
    return claim.cause is None or claim.cause.lower() in (finding.cause or "").lower()


def _final_holds(claim: Claim, view: View, written: Written) -> tuple[bool, str]:
    assert claim.item is not None
    key = written.items.get(claim.item)
    if key is None:
        return False, f"{claim.item} was never created (its step was skipped)"
    shown, ok = [], True
    for holder in claim.on:
        held = view.server.get(key) if holder == SERVER else view.devices.get(holder, {}).get(key)
        good, what = _holder_state(claim, held, written)
        ok = ok and good
        shown.append(f"{holder}: {what}")
    return ok, "; ".join(shown)


def _holder_state(claim: Claim, held: Held | None, written: Written) -> tuple[bool, str]:
    what = "nothing" if held is None else ("deleted" if not held.live else "a live copy")
    if claim.state == "absent":
        return held is None, what
    if claim.state == "deleted":
        return held is None or not held.live, what
    made = written.steps.get(str(claim.step))
    if made is None:
        return False, f"{what} (step {claim.step} wrote nothing: it was skipped)"
    write_id, fingerprint, stamp, _ = made
    if held is not None and held.holds(fingerprint, stamp):
        return True, f"the write of step {claim.step} ({write_id})"
    return False, what
