"""Where the seeds of a sweep run: local worker processes, or a dask.distributed cluster.

Either way results come back as they finish, never more than a few per worker waiting (a
million seeds are not a million futures at once), and a seed whose run crashes comes back as
a result with its traceback (seed_run.py), so none is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from simulator.errors import UsageError
from simulator.sweep.result import SeedResult
from simulator.sweep.seed_run import run_seed

IN_FLIGHT_PER_WORKER = 4


def _keep_folder(keep: Path | None, seed: int) -> str | None:
    return None if keep is None else str(keep / f"seed-{seed}")


def local(
    source: str,
    text: str,
    profile: str | None,
    seeds: Iterable[int],
    workers: int,
    keep: Path | None,
) -> Iterator[SeedResult]:
    """Results from `workers` local processes, as they finish."""
    window = max(1, workers) * IN_FLIGHT_PER_WORKER
    pending: set[Future[SeedResult]] = set()
    todo = iter(seeds)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        while True:
            for seed in todo:
                args = (source, text, profile, seed, _keep_folder(keep, seed))
                pending.add(pool.submit(run_seed, *args))
                if len(pending) >= window:
                    break
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def on_cluster(
    address: str,
    source: str,
    text: str,
    profile: str | None,
    seeds: Iterable[int],
    keep: Path | None,
) -> Iterator[SeedResult]:
    """Results from a dask.distributed scheduler at `address`, as they finish. Kept reports
    are written by the workers: `keep` must be a folder they all see."""
    from dask.distributed import Client, as_completed

    try:
        client = Client(address, timeout="30s")
    except (OSError, TimeoutError) as error:
        raise UsageError(f"--scheduler {address}: cannot reach it: {error}") from None
    with client:
        window = max(1, sum(client.nthreads().values())) * IN_FLIGHT_PER_WORKER
        todo = iter(seeds)

        def submit(seed: int) -> Any:
            args = (source, text, profile, seed, _keep_folder(keep, seed))
            return client.submit(run_seed, *args, key=f"syncsim-seed-{seed}-{source}", pure=False)

        running = as_completed([submit(seed) for _, seed in zip(range(window), todo, strict=False)])
        for future in running:
            yield future.result()
            for seed in todo:
                running.add(submit(seed))
                break
