"""`syncsim explore`: run variants of a scenario, and shrink each new way one fails.

Variants run in local worker processes (`try_variant` pickles: plain values in and out). A
failing variant is shrunk (shrink.py) once per failure (bound and cause), in the order the
variants were numbered, so the same exploration finds and shrinks the same failures. The
shrunk scenario is written as YAML with steps, its header naming where it came from, how it
fails, and whether it passes under the plan (the same profile without the scenario's flag
overrides: a planned change switched off by a flag is what it would catch).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import yaml

from simulator.errors import SyncsimError
from simulator.explore.document import Document, load_document, text_of, tidy
from simulator.explore.failure import Failure, failure_of
from simulator.explore.shrink import Shrinker
from simulator.explore.variants import variant
from simulator.runner import run


@dataclass(frozen=True)
class Tried:
    index: int
    changes: tuple[str, ...]
    verdict: str  # pass, fail, inconclusive, or refused (the loader refused the variant)
    failure: Failure | None
    text: str  # the variant as YAML


def try_variant(centre_text: str, profile: str | None, index: int) -> Tried:
    centre: Document = yaml.safe_load(centre_text)
    document, changes = variant(centre, index)
    text = text_of(document)
    try:
        result = run(load_document(document, profile), progress=_silent)
    except SyncsimError as error:
        return Tried(index, tuple(changes), "refused", None, f"# {error}\n{text}")
    return Tried(index, tuple(changes), result.verdict.value, failure_of(result), text)


def _silent(now: float, total: float) -> None:
    """No progress bar per variant."""


def variants(centre: Document, profile: str | None, budget: int, workers: int) -> Iterator[Tried]:
    """Variants 1..budget, in order (each computed by a worker)."""
    text = text_of(centre)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        yield from pool.map(try_variant, [text] * budget, [profile] * budget, range(1, budget + 1))


@dataclass(frozen=True)
class Shrunk:
    tried: Tried
    document: Document
    runs: int
    log: tuple[str, ...]
    plan_passes: bool | None  # None: the scenario overrides no flag, there is no plan to run

    def yaml(self, source: str, profile: str | None) -> str:
        failure = self.tried.failure
        assert failure is not None
        steps = len(self.document.get("steps", []))
        devices = len(self.document["devices"])
        plan = {
            None: "It sets no profile flags, so there is no plan without them to run.",
            True: "Without its flag overrides (the plan) it passes.",
            False: "Without its flag overrides (the plan) it fails too.",
        }[self.plan_passes]
        named = profile or self.document.get("profile", "legacy")
        header = [
            f"Shrunk by `syncsim explore` from {source}, variant {self.tried.index}",
            f"({'; '.join(self.tried.changes)}), under profile {named}.",
            f"It fails as the variant did: {failure.describe()}.",
            plan,
            f"{devices} device(s), {steps} step(s), after {self.runs} candidate runs.",
        ]
        return "".join(f"# {line}\n" for line in header) + text_of(tidy(self.document))


def shrink(tried: Tried, profile: str | None, budget: int) -> Shrunk:
    assert tried.failure is not None
    document: Document = yaml.safe_load(tried.text)
    failing = run(load_document(document, profile), progress=_silent)
    shrinker = Shrinker(profile, tried.failure, budget)
    small = shrinker.shrink(document, failing)
    return Shrunk(tried, small, shrinker.runs, tuple(shrinker.log), _plan_passes(small, profile))


def _plan_passes(document: Document, profile: str | None) -> bool | None:
    if not document.get("flags"):
        return None
    plan = {k: v for k, v in document.items() if k != "flags"}
    return run(load_document(plan, profile), progress=_silent).passed


def distinct_failures(tried: list[Tried]) -> list[Tried]:
    """The first variant of each failure (bound and cause), in variant order."""
    seen: set[tuple[str, str | None]] = set()
    first = []
    for one in sorted(tried, key=lambda t: t.index):
        if one.failure is not None and (one.failure.bound, one.failure.cause) not in seen:
            seen.add((one.failure.bound, one.failure.cause))
            first.append(one)
    return first
