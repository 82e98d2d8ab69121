"""Report folders written all or nothing.

Every file goes into a staging folder beside the target; only when all are written does the
staging folder take the target's place (two renames on one file system). A failure part way
(a full disk, a read-only mount) leaves the previous report exactly as it was and no staging
folder behind. Sub-folders of the previous report that are other reports (`matrix/`,
`diff/`) move into the new one, so replacing a run's report never deletes them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from simulator.errors import UsageError


def _failed(out: Path, error: OSError) -> UsageError:
    return UsageError(f"{out}: cannot write the report: {error.strerror or error}")


def check_writable(out: Path) -> None:
    """Before a run: the folder can be created and written, so a long run is not wasted."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists() and not out.is_dir():
            raise UsageError(f"{out}: exists and is not a folder")
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as error:
        raise _failed(out, error) from None


def write_file(path: Path, content: str | bytes) -> None:
    """One file beside a report (a table, a diff), landing whole: a temp file, then a rename.
    A failure is exit 2 on one line and leaves the previous file as it was."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise _failed(path, error) from None


def append_file(path: Path, content: str) -> None:
    """Append text to a file another program collects (a CI job summary), in one write.
    Not atomic like `write_file`: the file is theirs and others append to it too."""
    try:
        with path.open("a", encoding="utf-8") as file:
            file.write(content)
    except OSError as error:
        raise UsageError(f"{path}: cannot append: {error.strerror or error}") from None


def write_folder(out: Path, files: Mapping[str, bytes]) -> Path:
    """Replace `out` with a folder holding exactly `files` (plus its earlier sub-folders)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
        staging.chmod(0o755)  # mkdtemp makes it private; a report is for whoever reads it
    except OSError as error:
        raise _failed(out, error) from None
    try:
        for name, content in files.items():
            (staging / name).write_bytes(content)
        _swap(out, staging)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise _failed(out, error) from None
    return out


def _swap(out: Path, staging: Path) -> None:
    if not out.exists():
        os.rename(staging, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.rmdir(old)
    os.rename(out, old)
    try:
        for child in old.iterdir():
            if child.is_dir() and not (staging / child.name).exists():
                os.rename(child, staging / child.name)
        os.rename(staging, out)
    except OSError:
        # Put the previous report back as it was before giving up.
        for child in staging.iterdir():
            if child.is_dir() and not (old / child.name).exists():
                os.rename(child, old / child.name)
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
