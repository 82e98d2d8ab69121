"""The per-seed table of a sweep: one row per seed, every anomaly count and metric a column.

Rows are appended to `seeds.partial.csv` as seeds finish, so a sweep cut short keeps what it
ran; at the end the table is written sorted by seed as `sweep.csv` (pandas), which `syncsim
compare` reads back.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pandas as pd

from simulator.checker.names import EXPECTABLE, METRICS, Anomaly
from simulator.errors import UsageError
from simulator.sweep.result import SeedResult

VALUES = [a.value for a in Anomaly] + [m for m in METRICS if m in EXPECTABLE]
COLUMNS = ["seed", "verdict", "failed", "gaps", "history_hash", "seconds", "error", "report"]
PARTIAL = "seeds.partial.csv"
TABLE = "sweep.csv"


def _row(result: SeedResult) -> dict[str, Any]:
    return {
        "seed": result.seed,
        "verdict": result.verdict,
        "failed": "; ".join(result.failed_text),
        "gaps": "; ".join(result.gaps),
        "history_hash": result.history_hash,
        "seconds": result.seconds,
        "error": (result.error or "").strip().splitlines()[-1] if result.error else "",
        "report": result.report or "",
        **{name: result.values.get(name) for name in VALUES},
    }


class SeedTable:
    """The streamed table; use as a context manager."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._file: IO[str] | None = None
        self._writer: Any = None

    def __enter__(self) -> SeedTable:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = (self.folder / PARTIAL).open("w", newline="", encoding="utf-8")
        except OSError as error:
            raise UsageError(f"{self.folder}: cannot write the sweep table: {error}") from None
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS + VALUES)
        self._writer.writeheader()
        return self

    def add(self, result: SeedResult) -> None:
        self._writer.writerow(_row(result))
        assert self._file is not None
        self._file.flush()

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


def frame(results: Sequence[SeedResult]) -> pd.DataFrame:
    table = pd.DataFrame([_row(r) for r in results], columns=COLUMNS + VALUES)
    return table.sort_values("seed", kind="stable").reset_index(drop=True)


def read_table(path: Path) -> pd.DataFrame:
    """A sweep's table as written (sweep.csv), for comparing two sweeps."""
    try:
        return pd.read_csv(path / TABLE)
    except (OSError, ValueError) as error:
        raise UsageError(f"{path / TABLE}: cannot read the sweep table: {error}") from None
