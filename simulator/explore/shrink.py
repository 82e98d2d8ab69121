"""Shrinking a failing scenario to a small one that still fails the same way.

As Hypothesis shrinks an example: try a smaller candidate, keep it if it still fails the same
way (failure.py), repeat until nothing smaller does. The passes, in a fixed order, until a
whole round changes nothing: write the random workload down as steps (concretize.py), then
drop devices, faults, preloaded history, steps (halves, then quarters, ... then one by one),
a device's offline windows, reloads, crashes, wipes, drops and clock error, and cut the
duration and the settle phase. Runs are deterministic and the order is fixed, so shrinking
the same failure gives the same scenario. A step removed takes with it the steps that need
its item or replay it, so every candidate is one the loader accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from simulator.errors import SyncsimError
from simulator.explore.concretize import concretize
from simulator.explore.document import Document, copied, load_document, text_of
from simulator.explore.failure import Failure, fails_the_same_way
from simulator.runner import run
from simulator.verdict import Run

_TIMELINE = ("offline", "reloads", "crashes", "wipes")
MARGIN = 60.0  # seconds kept after the last thing that happens, before the settle phase


@dataclass
class Shrinker:
    profile: str | None
    failure: Failure
    budget: int = 400  # candidate runs at most
    runs: int = 0
    log: list[str] = field(default_factory=list)
    _seen: dict[str, bool] = field(default_factory=dict)

    def fails(self, document: Document) -> bool:
        """Whether the candidate loads and fails the same way (each candidate run once)."""
        text = text_of(document)
        if text not in self._seen:
            self._seen[text] = self._try(document)
        return self._seen[text]

    def _try(self, document: Document) -> bool:
        if self.runs >= self.budget:
            return False
        try:
            loaded = load_document(document, self.profile)
        except SyncsimError:
            return False
        self.runs += 1
        return fails_the_same_way(run(loaded, progress=_silent), self.failure)

    def shrink(self, document: Document, failing: Run) -> Document:
        current = document
        concrete = concretize(document, failing)
        if self.fails(concrete):
            current = concrete
            self.log.append("the random workload written down as steps")
        changed = True
        while changed and self.runs < self.budget:
            changed = False
            for name, candidates in _PASSES:
                for candidate in candidates(current):
                    if self.fails(candidate):
                        current, changed = candidate, True
                        self.log.append(name)
                        break
        return current


def _silent(now: float, total: float) -> None:
    """No progress bar for a candidate."""


# -- candidates, smallest change first within each pass -------------------------------------


def _without_device(document: Document) -> Iterator[Document]:
    names = [d["name"] for d in document["devices"]]
    for name in reversed(names):
        if len(names) > 1:
            yield _drop_device(document, name)


def _drop_device(document: Document, name: str) -> Document:
    out = copied(document)
    out["devices"] = [d for d in out["devices"] if d["name"] != name]
    gone = {s.get("item") for s in out.get("steps", []) if s["device"] == name}
    gone.discard(None)
    out["steps"] = [s for s in out.get("steps", []) if s["device"] != name]
    out["steps"] = _without_orphans(out["steps"], gone, set())
    faults = []
    for fault in out.get("faults", []):
        if "devices" in fault:
            fault["devices"] = [d for d in fault["devices"] if d != name]
            if not fault["devices"]:
                continue
        faults.append(fault)
    out["faults"] = faults
    out["hot_items"] = [
        h for h in out.get("hot_items", []) if len([d for d in h["devices"] if d != name]) >= 2
    ]
    for hot in out["hot_items"]:
        hot["devices"] = [d for d in hot["devices"] if d != name]
    return out


def _without_orphans(
    steps: list[Document], items: set[object], names: set[object]
) -> list[Document]:
    """Steps minus those on a removed item or replaying a removed step (and so on)."""
    items, names = items - {None}, names - {None}
    kept: list[Document] = []
    for step in steps:
        creates = step.get("do") in ("create", "add_piece")
        if (not creates and step.get("item") in items) or step.get("step") in names:
            if step.get("name") is not None:
                names.add(step["name"])
            continue
        kept.append(step)
    return kept


def _without_fault(document: Document) -> Iterator[Document]:
    for index in range(len(document.get("faults", []))):
        out = copied(document)
        del out["faults"][index]
        yield out


def _without_preload(document: Document) -> Iterator[Document]:
    if document.get("preload"):
        out = copied(document)
        out["preload"] = []
        yield out


def _without_steps(document: Document) -> Iterator[Document]:
    """Chunks of steps, halves first, down to single steps (ddmin's order)."""
    steps: list[Document] = document.get("steps", [])
    size = len(steps) // 2
    while size >= 1:
        for start in range(0, len(steps), size):
            out = copied(document)
            dropped = steps[start : start + size]
            items = {s.get("item") for s in dropped if s.get("do") in ("create", "add_piece")}
            names = {s.get("name") for s in dropped}
            rest = out["steps"][:start] + out["steps"][start + size :]
            out["steps"] = _without_orphans(rest, items, names)
            yield out
        size //= 2


def _without_timeline(document: Document) -> Iterator[Document]:
    for index, device in enumerate(document["devices"]):
        for key in _TIMELINE:
            for item in range(len(device.get(key, []))):
                out = copied(document)
                del out["devices"][index][key][item]
                yield out
        drops = device.get("link", {}).get("drops", {}).get("at", [])
        for item in range(len(drops)):
            out = copied(document)
            del out["devices"][index]["link"]["drops"]["at"][item]
            yield out
        if device.get("clock"):
            out = copied(document)
            del out["devices"][index]["clock"]
            yield out


def _last_event(document: Document) -> float:
    times = [float(s["at"]) for s in document.get("steps", [])]
    for device in document["devices"]:
        times += [float(w["to"]) for w in device.get("offline", [])]
        times += [float(t) for k in ("reloads", "crashes", "wipes") for t in device.get(k, [])]
        times += [float(t) for t in device.get("link", {}).get("drops", {}).get("at", [])]
    times += [float(f["to"]) for f in document.get("faults", [])]
    return max(times, default=0.0)


def _shorter(document: Document) -> Iterator[Document]:
    """The duration cut to just after the last event, then halfway there; a shorter settle."""
    duration = float(document["duration"])
    floor = min(duration, _last_event(document) + MARGIN)
    for target in (floor, (floor + duration) / 2):
        if target < duration:
            out = copied(document)
            out["duration"] = round(target, 3)
            yield out
    settle = float(document.get("settle", 600.0))
    if settle > 60:
        out = copied(document)
        out["settle"] = max(60.0, round(settle / 2, 3))
        yield out


_PASSES: tuple[tuple[str, Callable[[Document], Iterator[Document]]], ...] = (
    ("a device removed", _without_device),
    ("a fault removed", _without_fault),
    ("the preloaded history removed", _without_preload),
    ("steps removed", _without_steps),
    ("a timeline event removed", _without_timeline),
    ("shorter", _shorter),
)
