"""One exception root for the project, so callers can catch everything syncsim raises."""

from __future__ import annotations


class SyncsimError(Exception):
    """Root of every error syncsim raises on purpose."""

    exit_code = 1


class UsageError(SyncsimError):
    """Bad input: a scenario, a history file or command-line arguments. Exit code 2."""

    exit_code = 2


MAX_SHOWN = 160  # characters of a field path or message shown: a value can be megabytes


def one_line(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` on one line, control characters shown escaped, cut to `limit` characters."""
    flat = " ".join(text.split())
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in flat)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


class ScenarioError(UsageError):
    """A scenario problem that can be pinned to a file, a line and a field. The text is one
    line whatever the input held, so a refusal never floods a terminal."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = one_line(field)
        self.message = one_line(message)
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {self.field}: {self.message}")


class EndpointError(SyncsimError):
    """A live endpoint could not be reached at all. Exit code 3."""

    exit_code = 3
