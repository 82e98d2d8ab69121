"""Report folders land all or nothing; a failed write leaves the previous report as it was."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.errors import UsageError
from simulator.report import folder
from simulator.report.folder import check_writable, write_folder


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_a_new_report_replaces_the_old_and_keeps_its_sub_reports(tmp_path: Path) -> None:
    out = tmp_path / "offline_week"
    write_folder(out, {"summary.json": b"old", "stale.png": b"x"})
    (out / "matrix").mkdir()
    (out / "matrix" / "matrix.md").write_text("table")
    write_folder(out, {"summary.json": b"new"})
    assert sorted(p.name for p in out.iterdir()) == ["matrix", "summary.json"]
    assert (out / "summary.json").read_bytes() == b"new"
    assert (out / "matrix" / "matrix.md").read_text() == "table"
    assert _leftovers(tmp_path) == []


def test_a_full_disk_part_way_leaves_the_previous_report_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    before = {"summary.json": b"1", "junit.xml": b"2", "report.html": b"3"}
    write_folder(out, before)
    written = 0
    real = Path.write_bytes

    def fill_up(self: Path, data: bytes) -> int:
        nonlocal written
        written += 1
        if written == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", fill_up)
    with pytest.raises(UsageError, match="No space left on device") as caught:
        write_folder(out, {"summary.json": b"A", "junit.xml": b"B", "report.html": b"C"})
    assert caught.value.exit_code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_a_failed_swap_puts_the_previous_report_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    write_folder(out, {"summary.json": b"1"})
    (out / "matrix").mkdir()
    real = folder.os.rename

    def refuse_final(src: object, dst: object) -> None:
        if Path(str(src)).name.startswith(".run.new-") and Path(str(dst)) == out:
            raise OSError(errno.EROFS, "Read-only file system")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(folder.os, "rename", refuse_final)
    with pytest.raises(UsageError, match="Read-only"):
        write_folder(out, {"summary.json": b"2"})
    assert sorted(p.name for p in out.iterdir()) == ["matrix", "summary.json"]
    assert (out / "summary.json").read_bytes() == b"1"
    assert _leftovers(tmp_path) == []


def test_an_unwritable_target_is_found_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError):
        check_writable(blocker / "report")
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", "offline_week", "--out", str(blocker)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
        timeout=120,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "is not a folder" in done.stderr and done.stdout == ""
