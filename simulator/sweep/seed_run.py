"""One seed of a sweep: run, judge, keep the numbers (and the report of a run worth reading).

`run_seed` is what a worker executes, in a local process or on a dask worker: it takes only
plain values (a scenario path and its text, a profile name, a seed), so it pickles, and it
never raises: a run that crashes comes back as a `SeedResult` holding its traceback.
"""

from __future__ import annotations

import functools
import time
import traceback
from pathlib import Path

from simulator.report.folder import write_folder
from simulator.report.render import render
from simulator.runner import run, with_seed
from simulator.scenario.loader import Loaded, load_text
from simulator.sweep.result import SeedResult


def run_seed(
    source: str, text: str, profile: str | None, seed: int, keep: str | None = None
) -> SeedResult:
    """Run the scenario under `seed`; keep its report in folder `keep` (when given) if the
    run did not pass."""
    started = time.perf_counter()
    try:
        result = run(with_seed(loaded(source, text, profile), seed), progress=_silent)
    except Exception:
        return SeedResult(seed, "crash", error=traceback.format_exc(), seconds=_since(started))
    failed = [o for o in result.outcomes if not o.passed]
    report = None
    if keep is not None and result.verdict.value != "pass":
        report = str(write_folder(Path(keep), render(result)))
    return SeedResult(
        seed,
        result.verdict.value,
        result.result.values(),
        tuple(o.expectation.name for o in failed),
        tuple(f"{o.expectation.text}: got {o.shown or f'{o.value:g}'}" for o in failed),
        tuple(o.expectation.text for o in result.gaps),
        result.history.digest(),
        None,
        _since(started),
        report,
    )


@functools.lru_cache(maxsize=8)
def loaded(source: str, text: str, profile: str | None) -> Loaded:
    """The scenario as parsed for the worker's first seed of it: every seed of a sweep has
    the same text, and parsing and validating it was a tenth of a seed of offline_week. Safe
    to share because no run changes what it was given (tests/sweep/test_seed_run.py); a text
    that does not load raises every time, as exceptions are not cached."""
    return load_text(source, text, profile)


def _silent(now: float, total: float) -> None:
    """No progress bar per seed: the sweep draws one for all of them."""


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
