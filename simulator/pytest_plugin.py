"""pytest plugin: syncsim scenario files as test items, one per scenario per profile.

Registered through the `pytest11` entry point, so `pytest scenarios/` runs the scenario library
once syncsim is installed. Which files it collects: a `*.yaml` file whose own directory is named
`scenarios` (or one of the names in the `syncsim_dirs` ini option). Every other YAML file
(`.github/workflows/*.yml`, fixtures under `tests/`, ...) is left alone, and a file in such a
directory is collected even when it is broken, so a bad scenario fails instead of vanishing.

Each scenario gives one item per profile, named `<scenario>[<profile>]` (`offline_week[legacy]`),
judged by the bounds that profile gets from `expect:` and `expect_by_profile:`, exactly as
`syncsim matrix` judges them. A session stores each scenario's reports as one run of the run
store (report/store.py): `reports/<scenario>/<stamp>/<profile>/` (under `--syncsim-reports DIR`
instead of `reports`), `reports/<scenario>/latest` pointing at it, and once every profile of a
scenario has run, the table `matrix.md` and `matrix.json` beside the profiles' reports. A
failed item names each failed bound (`FAILED lost_write <= 0: got 4`) and the report; a
scenario the loader refuses is one failed item whose message is the loader's line
(`file:line: field: message`). pytest's own `-k`, `-x` and `--junitxml` work as for any test;
the junit testcase carries the report path as the property `syncsim_report`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from simulator.errors import ScenarioError, SyncsimError
from simulator.protocol.profile import PROFILES
from simulator.report.folder import write_file
from simulator.report.store import Destination
from simulator.scenario.loader import Loaded, load_text

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from simulator.live.commands import LiveTarget
    from simulator.verdict import Run

DEFAULT_DIRS = ("scenarios",)
# Live mode, as `syncsim run` takes it: every scenario runs against this endpoint.
_LIVE_OPTIONS = {
    "endpoint": "run every scenario live against this ws:// or wss:// URL",
    "rest": "the endpoint's REST base URL (default: its host and port)",
    "time-scale": "live: scenario seconds per wall second",
    "stop-cmd": "live: shell command that stops the endpoint (server_outage faults)",
    "start-cmd": "live: shell command that starts it again",
}
REPORTS_KEY = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("syncsim", "syncsim scenario files")
    group.addoption(
        "--syncsim-reports",
        metavar="DIR",
        default=None,
        help="where scenario reports go (default: reports/, as `syncsim run` writes them)",
    )
    for name, what in _LIVE_OPTIONS.items():
        kind = float if name == "time-scale" else str
        group.addoption(f"--syncsim-{name}", metavar="VALUE", type=kind, default=None, help=what)
    parser.addini(
        "syncsim_dirs",
        type="args",
        default=list(DEFAULT_DIRS),
        help="names of directories whose *.yaml files are syncsim scenarios (default: scenarios)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "syncsim: a syncsim scenario run under one profile")
    chosen = config.getoption("--syncsim-reports")
    config.stash[REPORTS_KEY] = Path(chosen if chosen is not None else "reports")


def is_scenario_file(path: Path, dirs: list[str] | tuple[str, ...] = DEFAULT_DIRS) -> bool:
    """The collection rule: `*.yaml` directly inside a directory with one of these names."""
    return path.suffix == ".yaml" and path.parent.name in dirs


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if is_scenario_file(file_path, parent.config.getini("syncsim_dirs")):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario file: an item per profile, or one failing item when it does not load."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            own = self._load(None)
        except SyncsimError as error:
            yield BadScenario.from_parent(self, name=self.path.stem, message=str(error))
            return
        self.runs: dict[str, Run] = {}
        self._where: Destination | None = None
        for profile in PROFILES:
            name = f"{own.scenario.name}[{profile}]"
            try:
                loaded = self._load(profile)
            except SyncsimError as error:  # a flag override this profile refuses
                yield BadScenario.from_parent(self, name=name, message=str(error))
                continue
            yield ScenarioItem.from_parent(self, name=name, loaded=loaded)

    def _load(self, profile: str | None) -> Loaded:
        """Load under `profile`; messages name the file as given relative to where pytest
        started (`scenarios/x.yaml:12: ...`), as the syncsim command names it."""
        try:
            source = str(self.path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            source = str(self.path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise ScenarioError(source, None, "(file)", error.strerror or "cannot read") from None
        return load_text(source, text, profile)

    def destination(self, name: str) -> Destination:
        """This session's run of the scenario in the store, made when its first item runs."""
        if self._where is None:
            root = self.config.invocation_params.dir / self.config.stash[REPORTS_KEY]
            self._where = Destination(root, name)
        return self._where

    def finished(self, run_: Run) -> None:
        """Record a profile's run and point `latest` at this session's run; once every profile
        has run, write the matrix table."""
        from simulator.matrix import MatrixRow, matrix_json, matrix_markdown

        assert self._where is not None
        self.runs[run_.loaded.profile.name] = run_
        if set(self.runs) == set(PROFILES):
            rows = [MatrixRow(name, self.runs[name]) for name in PROFILES]
            write_file(self._where.folder / "matrix.json", matrix_json(rows))
            write_file(self._where.folder / "matrix.md", matrix_markdown(rows))
        self._where.done()


class ScenarioFailed(Exception):
    """A scenario ran and missed some of its bounds; the message says which."""


def _target(config: pytest.Config) -> LiveTarget:
    from simulator.live.commands import LiveTarget

    given = {name: config.getoption(f"--syncsim-{name}") for name in _LIVE_OPTIONS}
    return LiveTarget(
        given["endpoint"],
        given["rest"],
        given["time-scale"],
        given["stop-cmd"],
        given["start-cmd"],
    )


class ScenarioItem(pytest.Item):
    """One scenario under one profile, judged by that profile's bounds."""

    def __init__(self, *, loaded: Loaded, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.loaded = loaded
        self.add_marker(pytest.mark.syncsim)

    def runtest(self) -> None:
        from simulator.cli import write_report
        from simulator.live.commands import play

        scenario, profile = self.loaded.scenario, self.loaded.profile.name
        assert isinstance(self.parent, ScenarioFile)
        where = self.parent.destination(scenario.name)
        result = play(self.loaded, _target(self.config))
        out = where.folder / profile
        write_report(result, out)
        self.parent.finished(result)
        # As given (reports/... when relative), under the directory pytest started in.
        start = self.config.invocation_params.dir
        shown = out.relative_to(start) if out.is_relative_to(start) else out
        self.user_properties.append(("syncsim_report", str(shown / "report.html")))
        from simulator.report.text import run_lines

        if not result.passed:
            raise ScenarioFailed("\n".join(run_lines(result, shown)))
        if result.gaps:
            # Every bound holds but some known gaps still show: pytest's expected failure.
            pytest.xfail(
                "; ".join(f"{o.expectation.text}: {o.expectation.known_gap}" for o in result.gaps)
            )

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: str | None = None,
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScenarioFailed | SyncsimError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # a crash keeps its traceback

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"syncsim {self.name}"


class BadScenario(pytest.Item):
    """A scenario file the loader refuses: it fails with the loader's one-line message."""

    def __init__(self, *, message: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.message = message
        self.add_marker(pytest.mark.syncsim)

    def runtest(self) -> None:
        raise ScenarioFailed(self.message)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: str | None = None,
    ) -> str | TerminalRepr:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"syncsim {self.name}: scenario refused"
