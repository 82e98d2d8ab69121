"""A run written down as steps: the random workload replaced by what the users did.

Shrinking a random scenario cannot remove "the third write" while a Poisson process draws the
writes; a scenario whose every write is a step can. Each user write in the history becomes a
step at its time on its device (entries named E1, E2 ..., pieces P1 ... in the order they
were created), random connection drops become drops at the times the plan drew, hot items and
workloads go (their writes are steps now). What the steps type is drawn from their own seeds,
so a concrete scenario is a new scenario: the shrinker keeps it only if it fails the same way.
"""

from __future__ import annotations

from typing import Any

from simulator.explore.document import Document, copied
from simulator.history import Kind
from simulator.plan.actions import Drop
from simulator.plan.compile import compile_plan
from simulator.protocol.kinds import PIECE
from simulator.verdict import Run

# A user write's op -> the step that makes it again.
_DOS = {
    "create": "create",
    "update": "update",
    "delete": "delete",
    "add_piece": "add_piece",
    "update_piece": "update_piece",
    "remove_piece": "remove_piece",
}
_ACTS = frozenset({"create", "update", "delete", "add_piece", "update_piece", "remove_piece"})
IDLE = {"entries_per_day": 0, "pieces_per_day": 0}  # the rest of a workload means nothing then


def _piece_do(op: str) -> str:
    return {"create": "add_piece", "update": "update_piece", "delete": "remove_piece"}.get(op, op)


def _title_composer(label: object) -> tuple[str, str | None]:
    """A piece's title and composer back from its label (`Title (Composer)`)."""
    text = label if isinstance(label, str) else "untitled"
    if text.endswith(")") and " (" in text:
        title, _, composer = text[:-1].rpartition(" (")
        return title, composer
    return text, None


def steps_of(run: Run) -> list[Document]:
    """Every user write of the run as a step, in time order."""
    names: dict[tuple[str, str], str] = {}
    counts = {"E": 0, "P": 0}
    steps: list[Document] = []
    for record in run.history.records:
        if record.kind is not Kind.WRITE or record.reason is not None:  # migrations aside
            continue
        is_piece = record.entity_type == PIECE
        do = _piece_do(str(record.op)) if is_piece else _DOS.get(str(record.op), "")
        key = (str(record.entity_type), str(record.entity_id))
        step: dict[str, Any] = {"at": round(record.t, 3), "device": record.device, "do": do}
        if do in ("create", "add_piece"):
            prefix = "P" if is_piece else "E"
            counts[prefix] += 1
            names[key] = f"{prefix}{counts[prefix]}"
            if is_piece:
                title, composer = _title_composer((record.detail or {}).get("label"))
                step.update({"title": title, **({"composer": composer} if composer else {})})
        elif key not in names:
            continue  # an item no step made (preloaded): nothing to name it by
        step["item"] = names[key]
        steps.append(step)
    return steps


def concretize(document: Document, run: Run) -> Document:
    """The document with its random workload written down as steps."""
    concrete = copied(document)
    kept = [s for s in concrete.get("steps", []) if s.get("do") not in _ACTS]
    concrete["steps"] = sorted(kept + steps_of(run), key=lambda s: float(s["at"]))
    concrete.pop("hot_items", None)
    drops: dict[str, list[float]] = {}
    for step in compile_plan(run.loaded.scenario):
        if isinstance(step.action, Drop) and step.device is not None:
            drops.setdefault(step.device, []).append(round(step.t, 6))
    for device in concrete["devices"]:
        device["workload"] = dict(IDLE)
        link = device.setdefault("link", {})
        if device["name"] in drops:
            link["drops"] = {"at": sorted(set(drops[device["name"]]))}
        else:
            link.pop("drops", None)
    for block in (concrete.get("expect", {}), *concrete.get("expect_by_profile", {}).values()):
        for key in ("final", "findings", "only_listed"):
            block.pop(key, None)  # claims name the original script's items
    return concrete
