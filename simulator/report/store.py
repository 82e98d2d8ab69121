"""The run store, as Jepsen keeps one: every command that writes reports for a scenario writes
them into a folder of their own, `reports/<name>/<stamp>/`, and `reports/<name>/latest` points
at the newest complete one. No run overwrites another, so last week's report is still there to
compare with.

A stamp is the UTC time the run was stored (`20261206T154221Z`), with `-2`, `-3` ... when
another run took that second; stamps sort in the order the runs were stored. The folder is
reserved (made) only once the run is done, and `latest` moves only once every file of the
report is written, so a crash or a full disk never leaves `latest` pointing at half a report.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from simulator.errors import UsageError

STAMP = "%Y%m%dT%H%M%SZ"
LATEST = "latest"


def _failed(path: Path, error: OSError) -> UsageError:
    return UsageError(f"{path}: cannot write the report: {error.strerror or error}")


def check_store(root: Path, name: str) -> None:
    """Before a run: the scenario's store folder can be made and written, so a long run is not
    wasted on a report that cannot land."""
    folder = root / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise _failed(folder, error) from None


def new_run(root: Path, name: str, now: datetime | None = None) -> Path:
    """Reserve `root/name/<stamp>` for a run stored at `now` (default: this moment)."""
    folder = root / name
    stamp = (now or datetime.now(UTC)).strftime(STAMP)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for number in itertools.count(1):
            run = folder / (stamp if number == 1 else f"{stamp}-{number}")
            try:
                run.mkdir()
            except FileExistsError:
                continue
            return run
    except OSError as error:
        raise _failed(folder, error) from None
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends


def mark_latest(run: Path) -> Path:
    """Point `latest` beside `run` at it, in one rename: a reader never sees no link."""
    link = run.parent / LATEST
    temp = run.parent / f".{LATEST}.{os.getpid()}.tmp"
    try:
        temp.unlink(missing_ok=True)
        temp.symlink_to(run.name, target_is_directory=True)
        os.replace(temp, link)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise _failed(link, error) from None
    return link


def runs(root: Path, name: str) -> list[Path]:
    """The stored runs of a scenario, oldest first."""
    folder = root / name
    if not folder.is_dir():
        return []
    stored = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and _stamped(p)]
    return sorted(stored, key=lambda p: (p.name.split("-")[0], _number(p.name)))


def _stamped(path: Path) -> bool:
    try:
        datetime.strptime(path.name.split("-")[0], STAMP)
    except ValueError:
        return False
    return True


def _number(name: str) -> int:
    _, _, suffix = name.partition("-")
    return int(suffix) if suffix.isdigit() else 1


class Destination:
    """Where one command's reports go: exactly `out` when the user gave one (replaced all or
    nothing, no link), else a new run in the store under `root/name`. Checked now; the run
    folder is reserved when the first report is ready, and `latest` moved by `done`."""

    def __init__(self, root: Path, name: str, out: Path | None = None) -> None:
        from simulator.report.folder import check_writable

        self.root, self.name, self.out = root, name, out
        self._run: Path | None = out
        if out is None:
            check_store(root, name)
        else:
            check_writable(out)

    @property
    def folder(self) -> Path:
        if self._run is None:
            self._run = new_run(self.root, self.name)
        return self._run

    def done(self) -> Path:
        """The run is complete: point `latest` at it (a stored run) and say where it is."""
        folder = self.folder
        if self.out is None:
            mark_latest(folder)
        return folder
