"""One exception root for the project, so callers can catch everything syncsim raises."""

from __future__ import annotations


class SyncsimError(Exception):
    """Root of every error syncsim raises on purpose."""

    exit_code = 1


class UsageError(SyncsimError):
    """Bad input: a scenario, a history file or command-line arguments. Exit code 2."""

    exit_code = 2


class ScenarioError(UsageError):
    """A scenario problem that can be pinned to a file, a line and a field."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {field}: {message}")


class EndpointError(SyncsimError):
    """A live endpoint could not be reached at all. Exit code 3."""

    exit_code = 3
