"""What one seed of a sweep left: its verdict, its numbers, what failed, where its report is.

Plain values only, so a result travels back from a worker process or a dask worker, and the
report and the judge read results without loading the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SeedResult:
    seed: int
    verdict: str  # pass, fail, inconclusive, or crash
    values: dict[str, float] = field(default_factory=dict)  # anomaly counts and metrics
    failed: tuple[str, ...] = ()  # names whose per-seed bounds failed (known gaps aside)
    failed_text: tuple[str, ...] = ()  # those bounds as text: `lost_write <= 0: got 2`
    gaps: tuple[str, ...] = ()  # known gaps that showed
    history_hash: str = ""
    error: str | None = None  # the traceback of a run that crashed
    seconds: float = 0.0  # wall seconds the run took on its worker
    report: str | None = None  # where its report was kept, if it was
