"""`syncsim`: run scenarios, re-check histories, run the scenario library as a gate.

Exit codes: 0 every expectation met, 1 an expectation failed, 2 bad input (scenario, history
file, arguments, an unwritable report), 3 a live endpoint could not be reached, 4 inconclusive
(the evidence cannot be trusted: the observer failed, the endpoint stored nothing, the run
never went quiet).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from simulator.compare import DEFAULT_TOLERANCE_PCT, Comparison
from simulator.errors import SyncsimError, UsageError
from simulator.history import History
from simulator.live.commands import LiveTarget, leftover_warning, live_server, play
from simulator.matrix import MatrixRow
from simulator.progress import terminal_bars
from simulator.protocol.breaks import Break
from simulator.protocol.profile import PROFILES
from simulator.report.folder import check_writable, write_file
from simulator.report.store import Destination
from simulator.runner import run, with_seed
from simulator.scenario.loader import Loaded, load
from simulator.verdict import Run, Verdict, judge_history

REPORTS = Path("reports")
SCENARIOS = Path("scenarios")


def _scenario_path(name: str) -> Path:
    """A path as given, or a bare name looked up as scenarios/NAME.yaml."""
    path = Path(name)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        return path
    return SCENARIOS / f"{name}.yaml"


STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def write_report(run_: Run, out: Path) -> Path:
    """Write the report folder all or nothing (see report/folder.py); when the CI job has a
    summary file ($GITHUB_STEP_SUMMARY), append the run's summary.md to it as well."""
    from simulator.report.folder import write_folder
    from simulator.report.render import render

    written = write_folder(out, render(run_))
    _append_step_summary(run_, written)
    return written


def _append_step_summary(run_: Run, out: Path) -> None:
    """A job summary that cannot be written costs the summary, not the run: a warning."""
    target = os.environ.get(STEP_SUMMARY)
    if not target:
        return
    from simulator.report.folder import append_file
    from simulator.report.markdown import summary_markdown

    try:
        append_file(Path(target), summary_markdown(run_, str(out / "report.html")) + "\n")
    except UsageError as error:
        print(f"syncsim: warning: {STEP_SUMMARY}: {error}", file=sys.stderr)


def _print_run(run_: Run, out: Path | None, figures: bool = False) -> None:
    """The verdict lines; with `figures`, the key figures with percentiles after them."""
    from simulator.report.text import figure_lines, run_lines

    lines = run_lines(run_, out)
    if figures:
        lines += figure_lines(run_)
    print("\n".join(lines))


def _target(args: argparse.Namespace) -> LiveTarget:
    return LiveTarget(args.endpoint, args.rest, args.time_scale, args.stop_cmd, args.start_cmd)


def _live_options(command: argparse.ArgumentParser) -> None:
    live = command.add_argument_group("live (against a real endpoint)")
    live.add_argument("--endpoint", help="run live against this ws:// or wss:// URL")
    live.add_argument("--rest", help="the endpoint's REST base URL (default: its host and port)")
    live.add_argument("--time-scale", type=float, help="scenario seconds per wall second")
    live.add_argument("--stop-cmd", help="shell command that stops the endpoint (server_outage)")
    live.add_argument("--start-cmd", help="shell command that starts it again")


def cmd_run(args: argparse.Namespace) -> int:
    loaded = with_seed(load(_scenario_path(args.scenario), args.profile), args.seed)
    where = Destination(REPORTS, loaded.scenario.name, args.out)
    result = play(loaded, _target(args))
    write_report(result, where.folder)
    _print_run(result, where.done(), figures=True)
    return result.verdict.exit_code


def cmd_serve(args: argparse.Namespace) -> int:
    from simulator.live.commands import serve

    return serve(
        args.host,
        args.port,
        args.rest_port,
        args.db,
        args.profile,
        args.jwt_secret_env,
        args.clock_file,
        frozenset(Break(b) for b in args.breaks or ()),
    )


def cmd_diff(args: argparse.Namespace) -> int:
    from simulator.live.diff import diff_report, diff_runs

    loaded = with_seed(load(_scenario_path(args.scenario), args.profile), args.seed)
    where = Destination(REPORTS, loaded.scenario.name, args.out)
    target = _target(args)
    server = live_server(loaded, target)
    if server is None:
        raise UsageError("diff needs a live endpoint: --endpoint URL, or server: {kind: live}")
    simulated = run(loaded)
    warning = leftover_warning(loaded, server)
    if warning is not None:
        print(f"syncsim diff: warning: {warning}", file=sys.stderr)
    live = play(loaded, target)
    out = where.folder
    write_report(simulated, out / "sim")
    write_report(live, out / "live")
    differences = diff_runs(simulated, live)
    text = diff_report(loaded.scenario.name, differences, () if warning is None else (warning,))
    write_file(out / "diff.md", text)
    where.done()
    print(text, end="")
    print(f"reports: {out / 'sim'}, {out / 'live'}")
    if live.verdict is Verdict.INCONCLUSIVE:
        return Verdict.INCONCLUSIVE.exit_code
    return 1 if differences.verdicts_differ else 0


def cmd_check(args: argparse.Namespace) -> int:
    history = History.load(Path(args.history))
    if not history.meta:
        raise UsageError(f"{args.history}:1: meta: not a syncsim history (first row is not meta)")
    loaded = load(args.scenario) if args.scenario else _strict_default(history)
    result = judge_history(loaded, history)
    _print_run(result, None)
    return result.verdict.exit_code


def _strict_default(history: History) -> Loaded:
    """Without a scenario, a history passes only when no anomaly at all is found."""
    from simulator.checker.names import Anomaly
    from simulator.scenario.loader import load_text

    meta = history.meta
    expect = "".join(f"  {a.value}: 0\n" for a in Anomaly)
    name = meta.get("scenario", "history")
    text = f"name: {name}\nduration: 1s\ndevices: [{{name: x}}]\nexpect:\n{expect}"
    return load_text("(strict default)", text)


def _write_matrix(out: Path, rows: list[MatrixRow]) -> str:
    """A scenario's table of profiles, beside their reports; the Markdown, to print."""
    from simulator.matrix import matrix_json, matrix_markdown

    table = matrix_markdown(rows)
    write_file(out / "matrix.json", matrix_json(rows))
    write_file(out / "matrix.md", table)
    return table


def cmd_matrix(args: argparse.Namespace) -> int:
    from simulator.matrix import run_matrix

    path = _scenario_path(args.scenario)
    name = load(path).scenario.name
    where = Destination(REPORTS, name, args.out)
    profiles = tuple(dict.fromkeys(args.profile or PROFILES))
    rows = run_matrix(path, args.seed, _target(args), profiles)
    out = where.folder
    for row in rows:
        write_report(row.run, out / row.profile)
    table = _write_matrix(out, rows)
    where.done()
    print(table, end="")
    print(f"\nreports: {out}/<profile>/report.html, table: {out / 'matrix.md'}")
    return max(r.run.verdict.exit_code for r in rows)


def write_comparison(comparison: Comparison, out: Path) -> Path:
    """Write `compare.json` and `compare.html`; each lands whole (temp file, then rename)."""
    from simulator.report.comparison import render_comparison

    for name, content in render_comparison(comparison).items():
        write_file(out / name, content)
    return out


def run_compare(
    base: Path, new: Path, tolerance_pct: float = DEFAULT_TOLERANCE_PCT, out: Path | None = None
) -> int:
    """The `syncsim compare` command: print the table, write the files, 1 when NEW is worse."""
    from simulator.compare import compare
    from simulator.report.comparison import reasons, text_table
    from simulator.sweep.compare import is_sweep

    if is_sweep(base) and is_sweep(new):
        return _compare_sweeps(base, new, out)

    comparison = compare(base, new, tolerance_pct)
    where = Destination(REPORTS, "compare", out)
    target = write_comparison(comparison, where.folder)
    where.done()
    print(text_table(comparison), end="")
    if comparison.worse:
        print(f"compare: NEW is worse than BASE (tolerance {tolerance_pct:g}%):")
        for reason in reasons(comparison):
            print(f"  WORSE {reason}")
    else:
        print(f"compare: NEW is not worse than BASE (tolerance {tolerance_pct:g}%)")
    print(f"  written: {target / 'compare.html'}, {target / 'compare.json'}")
    return 1 if comparison.worse else 0


def _compare_sweeps(base: Path, new: Path, out: Path | None) -> int:
    """Two sweeps: each anomaly and metric compared as a distribution over the seeds."""
    import json
    from dataclasses import asdict

    from simulator.sweep import compare as sweeps

    comparison = sweeps.compare_sweeps(base, new)
    where = Destination(REPORTS, "compare", out)
    table = sweeps.text_table(comparison)
    facts = {
        "base": str(base),
        "new": str(new),
        "worse": comparison.worse,
        "alpha": sweeps.ALPHA,
        "min_effect": sweeps.MIN_EFFECT,
        "shifts": [asdict(s) for s in comparison.shifts],
    }
    write_file(where.folder / "compare.json", json.dumps(facts, indent=2) + "\n")
    write_file(where.folder / "compare.md", table)
    target = where.done()
    print(table, end="")
    worse = [s.name for s in comparison.shifts if s.worse]
    if worse:
        print(f"compare: NEW is worse than BASE: {', '.join(worse)} shifted the wrong way")
    else:
        print("compare: NEW is not worse than BASE (no shift the wrong way beyond seed noise)")
    print(f"  written: {target / 'compare.json'}, {target / 'compare.md'}")
    return 1 if worse else 0


def _mismatch(path: Path, out: Path) -> int:
    """The gate's second half: a proposed client against a legacy server; 1 unless the
    preflight names the mismatch."""
    from simulator.live.differential import mismatch_case

    case = mismatch_case(path, "proposed", "legacy", out / "mismatch")
    print(f"{case.scenario}[proposed client, legacy server]: {case.verdict}")
    for line in case.named:
        print(f"  preflight: {line}")
    if not case.holds:
        print("  DIFFERS: the preflight named no mismatch")
    return 0 if case.holds else 1


def cmd_differential(args: argparse.Namespace) -> int:
    from simulator.auth import secret_from
    from simulator.live.differential import as_json, markdown, run_case

    secret_from("SYNCSIM_JWT_SECRET")  # refused up front, not once per case
    paths = sorted(Path(args.directory).glob("*.yaml"))
    if not paths:
        raise UsageError(f"{args.directory}: no scenario files (*.yaml)")
    profiles = [args.profile] if args.profile else sorted(PROFILES)
    for path in paths:  # every file under every profile is validated before anything runs
        for name in profiles:
            load(path, name)
    where = Destination(REPORTS, "differential", args.out)
    out = where.folder
    cases = []
    # A live case mostly waits on wall time: several at once cost little CPU each.
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        running = [
            pool.submit(run_case, path, name, out / path.stem / name)
            for path in paths
            for name in profiles
        ]
        for done in as_completed(running):
            case = done.result()
            again = " on a second live run; the first differed" if case.first_attempt else ""
            print(
                f"{case.scenario}[{case.profile}]: {'agrees' if case.agrees else 'DIFFERS'}"
                + again
                + "".join(f"\n  first: {line}" for line in case.first_attempt)
                + "".join(f"\n  {line}" for line in case.unexplained),
                flush=True,
            )
            cases.append(case)
    cases.sort(key=lambda c: (c.scenario, c.profile))
    write_file(out / "differential.md", markdown(cases))
    write_file(out / "differential.json", as_json(cases))
    differing = sum(not c.agrees for c in cases)
    missed = 0
    if args.mismatch:
        shortest = min(paths, key=lambda path: load(path).scenario.duration)
        missed = _mismatch(shortest, out)
    agree = len(cases) - differing
    where.done()
    retried = sum(bool(c.first_attempt) and c.agrees for c in cases)
    print(
        f"differential: {agree} agree, {differing} differ"
        + (f" ({retried} agreed on a second live run)" if retried else "")
        + ("; the mismatch went unnamed" if missed else "")
        + f"; table: {out / 'differential.md'}"
    )
    return 1 if differing or missed else 0


def cmd_probe(args: argparse.Namespace) -> int:
    """The conformance suite live against an endpoint, or (--mutation) the suite's own test."""
    from simulator.auth import secret_from
    from simulator.live import probe

    if (args.endpoint is None) == (not args.mutation):
        raise UsageError("probe: give an ENDPOINT, or --mutation (which starts its own servers)")
    secret_from("SYNCSIM_JWT_SECRET")  # refused up front, not once per probe
    paths = probe.probes(Path(args.suite), args.only or ())
    if not paths:
        raise UsageError(f"{args.suite}: no probe (*.yaml) to run")
    for path in paths:
        load(path, args.profile)  # every probe is validated before anything runs
    where = Destination(REPORTS, "probe", args.out)
    out = where.folder
    results = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        running = []
        for path in paths:
            if args.mutation:
                profile = args.profile or "seq"
                clean = out / "servers" / f"clean-{path.stem}"
                running.append(pool.submit(probe.mutation_case, path, clean, profile, None))
                broken = out / "servers" / f"broken-{path.stem}"
                running.append(pool.submit(probe.mutation_case, path, broken, profile, path.stem))
            else:
                target = LiveTarget(args.endpoint, args.rest, args.time_scale)
                running.append(pool.submit(probe.run_probe, path, target, args.profile))
        for done in as_completed(running):
            result = done.result()
            side = "clean" if result.broken is None else "broken"
            folder = out / result.rule if not args.mutation else out / side / result.rule
            write_report(result.run, folder)
            mark = "holds" if result.holds else "DOES NOT HOLD"
            against = "" if result.broken is None else f" (server breaks {result.broken})"
            print(f"{result.rule}{against}: {result.verdict.value}, {mark}", flush=True)
            results.append(result)
    results.sort(key=lambda r: (r.rule, r.broken or ""))
    write_file(out / "probe.md", probe.table(results))
    where.done()
    failing = [r for r in results if not r.holds]
    print(f"probe: {len(results) - len(failing)} hold, {len(failing)} do not; {out / 'probe.md'}")
    if args.mutation or any(r.verdict is Verdict.FAIL for r in failing):
        return 1 if failing else 0
    return 4 if failing else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """One scenario over many seeds, in parallel; judged over all of them."""
    import time

    from tqdm import tqdm

    from simulator.progress import wanted
    from simulator.report.folder import write_folder
    from simulator.sweep import engine
    from simulator.sweep.judge import judge_sweep
    from simulator.sweep.report import Timing, render_sweep
    from simulator.sweep.seeds import parse_seeds
    from simulator.sweep.table import SeedTable

    path = _scenario_path(args.scenario)
    loaded = load(path, args.profile)  # refused now, with its line, before any seed runs
    text = path.read_text(encoding="utf-8")
    seeds = parse_seeds(args.seeds)
    where = Destination(REPORTS, loaded.scenario.name, args.out)
    out = where.folder
    keep = None if args.keep == "none" else out / "seeds"
    started = time.perf_counter()
    if args.scheduler:
        results_of = engine.on_cluster(args.scheduler, str(path), text, args.profile, seeds, keep)
    else:
        results_of = engine.local(str(path), text, args.profile, seeds, args.workers, keep)
    results = []
    show = wanted(sys.stderr, os.environ)
    with (
        SeedTable(out) as table,
        tqdm(total=len(seeds), desc=loaded.scenario.name, unit="seed", disable=not show) as bar,
    ):
        for result in results_of:
            table.add(result)
            results.append(result)
            bar.update(1)
            if result.verdict != "pass":
                said = "crashed" if result.error else "; ".join(result.failed_text)
                tqdm.write(f"  seed {result.seed}: {result.verdict.upper()} {said}")
    verdict = judge_sweep(loaded, results)
    wall = time.perf_counter() - started
    timing = Timing(wall, args.workers, args.scheduler or "local processes")
    write_folder(out, {**render_sweep(loaded, results, verdict, timing)})
    (out / "seeds.partial.csv").unlink(missing_ok=True)
    where.done()
    word = "PASS" if verdict.passed else "FAIL"
    print(
        f"{loaded.scenario.name}: {word} over {len(results)} seeds (profile {loaded.profile.name})"
    )
    for outcome in verdict.outcomes:
        mark = "  " if outcome.holds else "  FAILED "
        print(f"{mark}{outcome.text}: {outcome.found}")
    rate = timing.per_second(len(results))
    print(f"  {rate:.2f} seeds/s, {wall:.1f} s; report: {out / 'sweep.html'}")
    return 0 if verdict.passed else 1


def cmd_explore(args: argparse.Namespace) -> int:
    """Variants around a scenario; each new way one fails, shrunk to a minimal scenario."""
    import json

    from simulator.explore import explore
    from simulator.explore.document import to_document

    path = _scenario_path(args.scenario)
    loaded = load(path, args.profile)
    where = Destination(REPORTS, loaded.scenario.name, args.out)
    tried = []
    for one in explore.variants(
        to_document(loaded.scenario), args.profile, args.budget, args.workers
    ):
        tried.append(one)
        mark = "" if one.failure is None else f": {one.failure.describe()}"
        print(f"variant {one.index}: {one.verdict}{mark}", flush=True)
    found = explore.distinct_failures(tried)[: args.shrink]
    out = where.folder
    written = []
    for number, failing in enumerate(found, start=1):
        print(f"shrinking variant {failing.index} ...", flush=True)
        shrunk = explore.shrink(failing, args.profile, args.shrink_budget)
        name = out / f"shrunk-{number}.yaml"
        write_file(name, shrunk.yaml(str(path), args.profile))
        written.append({"file": str(name), "variant": failing.index, "runs": shrunk.runs,
                        "devices": len(shrunk.document["devices"]),
                        "steps": len(shrunk.document.get("steps", [])),
                        "plan_passes": shrunk.plan_passes, "log": list(shrunk.log)})  # fmt: skip
        print(f"  {name}: {written[-1]['devices']} devices, {written[-1]['steps']} steps")
    facts = {
        "scenario": loaded.scenario.name,
        "profile": loaded.profile.name,
        "variants": [
            {
                "index": t.index,
                "changes": list(t.changes),
                "verdict": t.verdict,
                "failure": None if t.failure is None else t.failure.describe(),
            }
            for t in tried
        ],
        "shrunk": written,
    }
    write_file(out / "explore.json", json.dumps(facts, indent=2) + "\n")
    where.done()
    failing_count = sum(t.failure is not None for t in tried)
    print(
        f"explore: {failing_count} of {len(tried)} variants failed; {len(written)} shrunk in {out}"
    )
    return 1 if failing_count else 0


def cmd_compare(args: argparse.Namespace) -> int:
    return run_compare(Path(args.base), Path(args.new), args.tolerance, args.out)


def cmd_e2e(args: argparse.Namespace) -> int:
    paths = sorted(Path(args.directory).glob("*.yaml"))
    if not paths:
        raise UsageError(f"{args.directory}: no scenario files (*.yaml)")
    profiles: list[str | None] = [None] if args.own_profile else [*sorted(PROFILES)]
    if args.profile is not None:
        profiles = [args.profile]
    # Every file under every profile is validated before anything runs.
    loaded = [load(p, name) for p in paths for name in profiles]
    stores = {s.scenario.name: Destination(REPORTS, s.scenario.name) for s in loaded}
    if args.junit is not None:
        check_writable(args.junit)
    runs: list[Run] = []
    target = _target(args)
    for name, where in stores.items():
        done: list[Run] = []
        for scenario in (s for s in loaded if s.scenario.name == name):
            result = play(scenario, target)
            out = where.folder
            if not args.own_profile:
                out = out / result.loaded.profile.name
            _print_run(result, write_report(result, out))
            done.append(result)
        if not args.own_profile:
            _write_matrix(where.folder, [MatrixRow(r.loaded.profile.name, r) for r in done])
        where.done()
        runs += done
    if args.junit is not None:
        from simulator.report.junit import junit_suites

        write_file(args.junit, junit_suites(runs))
    verdicts = [r.verdict for r in runs]
    failures, inconclusive = verdicts.count(Verdict.FAIL), verdicts.count(Verdict.INCONCLUSIVE)
    doubtful = f", {inconclusive} inconclusive" if inconclusive else ""
    print(f"{verdicts.count(Verdict.PASS)} passed, {failures} failed{doubtful}")
    return 1 if failures else (4 if inconclusive else 0)


EPILOG = """examples:
  syncsim run offline_week                  run a library scenario, report in
                                            reports/offline_week/<stamp>/ (and .../latest)
  syncsim run my.yaml --profile proposed    the same scenario under another profile
  syncsim matrix offline_week               under every profile, side by side
  syncsim e2e scenarios --junit junit.xml   every scenario under every profile: the CI gate
  syncsim serve --port 8787 --profile seq   the reference server on real WebSockets
  syncsim run offline_week --endpoint ws://127.0.0.1:8787/sync/ws --rest http://127.0.0.1:8788
                                            live, against that server
  syncsim differential scenarios            simulated and live against syncsim serve, per
                                            scenario and profile: the same verdicts?
  syncsim probe ws://127.0.0.1:8787/sync/ws --rest http://127.0.0.1:8788
                                            the conformance suite against a server
  syncsim compare reports/x/latest/proposed reports/x/latest/legacy

exit codes:
  0  every expectation met
  1  an expectation failed
  2  bad input: a scenario, a history, the arguments, an unwritable report
  3  a live endpoint could not be reached
  4  inconclusive: the evidence cannot be trusted (live observer failed, nothing stored,
     never quiet, preload refused, an outage command failed, the endpoint lacks what the
     client relies on)
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("syncsim")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


def _profile_option(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        help=f"{what} under this profile instead of the one the scenario names",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="syncsim",
        description=__doc__.splitlines()[0].replace("`", ""),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"syncsim {_version()}")
    commands = top.add_subparsers(dest="command", required=True)
    run_p = commands.add_parser("run", help="run one scenario and store its report")
    run_p.add_argument("scenario", help="a scenario file, or a name under scenarios/")
    run_p.add_argument("--seed", type=int, help="override the scenario's seed")
    run_p.add_argument(
        "--out", type=Path, help="report directory (default: a new reports/<name>/<stamp>/)"
    )
    _live_options(run_p)
    _profile_option(run_p, "run it")
    run_p.set_defaults(handler=cmd_run)
    serve_p = commands.add_parser("serve", help="run the reference server on real WebSockets")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=8787, help="WebSocket port (0: any free)")
    serve_p.add_argument("--rest-port", type=int, help="REST port (default: port + 1)")
    serve_p.add_argument("--db", default="syncsim-serve.db", help="SQLite file")
    serve_p.add_argument(
        "--clock-file",
        help="take the time from this file, as a live run with server.clock_file writes it",
    )
    serve_p.add_argument("--profile", default="legacy", help="server behaviour flags")
    serve_p.add_argument(
        "--jwt-secret-env", default="SYNCSIM_JWT_SECRET", help="env var with the secret"
    )
    serve_p.add_argument(
        "--break",
        dest="breaks",
        action="append",
        choices=[b.value for b in Break],
        metavar="RULE",
        help="TEST ONLY: break this protocol rule on purpose (repeatable), to show that the "
        "conformance probe of the rule fails; rules: " + ", ".join(b.value for b in Break),
    )
    serve_p.set_defaults(handler=cmd_serve)
    diff_p = commands.add_parser("diff", help="run a scenario simulated and live, and compare")
    diff_p.add_argument("scenario", help="a scenario file, or a name under scenarios/")
    _live_options(diff_p)
    diff_p.add_argument("--seed", type=int, help="override the scenario's seed")
    diff_p.add_argument(
        "--out", type=Path, help="output directory (default: a new reports/<name>/<stamp>/)"
    )
    _profile_option(diff_p, "run it")
    diff_p.set_defaults(handler=cmd_diff)
    check_p = commands.add_parser("check", help="re-check a saved history.jsonl")
    check_p.add_argument("history", help="a history.jsonl written by syncsim run")
    check_p.add_argument("--scenario", help="judge the expectations of this scenario file")
    check_p.set_defaults(handler=cmd_check)
    matrix_p = commands.add_parser("matrix", help="run one scenario under every profile")
    matrix_p.add_argument("scenario", help="a scenario file, or a name under scenarios/")
    matrix_p.add_argument("--seed", type=int, help="override the scenario's seed")
    matrix_p.add_argument(
        "--out", type=Path, help="output directory (default: a new reports/<name>/<stamp>/)"
    )
    matrix_p.add_argument(
        "--profile",
        action="append",
        choices=sorted(PROFILES),
        help="only this profile (repeat for several; default every profile), e.g. the ones a"
        " live endpoint implements",
    )
    _live_options(matrix_p)
    matrix_p.set_defaults(handler=cmd_matrix)
    e2e_p = commands.add_parser("e2e", help="run every scenario in a directory as a gate")
    e2e_p.add_argument("directory", nargs="?", default="scenarios")
    e2e_p.add_argument(
        "--all-profiles",
        action="store_true",
        help="run each scenario under every profile (the default; kept for old scripts)",
    )
    e2e_p.add_argument(
        "--own-profile",
        action="store_true",
        help="run each scenario once, under the profile it names",
    )
    _profile_option(e2e_p, "run every scenario")
    e2e_p.add_argument("--junit", type=Path, help="also write one JUnit XML of every run here")
    _live_options(e2e_p)
    e2e_p.set_defaults(handler=cmd_e2e)
    differential_p = commands.add_parser(
        "differential",
        help="every scenario simulated and live against syncsim serve: same verdicts?",
    )
    differential_p.add_argument("directory", nargs="?", default="scenarios")
    differential_p.add_argument(
        "--out", type=Path, help="default: a new reports/differential/<stamp>/"
    )
    differential_p.add_argument(
        "--workers", type=int, default=3, help="cases run at once (default 3)"
    )
    _profile_option(differential_p, "run every scenario")
    differential_p.add_argument(
        "--no-mismatch",
        dest="mismatch",
        action="store_false",
        help="skip the run of a proposed client against a legacy server",
    )
    differential_p.set_defaults(handler=cmd_differential)
    probe_p = commands.add_parser(
        "probe", help="the conformance suite, live against an endpoint (or --mutation)"
    )
    probe_p.add_argument("endpoint", nargs="?", help="ws:// or wss:// URL of the endpoint")
    probe_p.add_argument("--rest", help="the endpoint's REST base URL (default: its host, port)")
    probe_p.add_argument(
        "--time-scale",
        type=float,
        default=60.0,
        help="scenario seconds per wall second (default 60: a probe plays in about 3 s)",
    )
    _profile_option(probe_p, "run every probe")
    probe_p.add_argument(
        "--only", action="append", metavar="RULE", help="only this rule's probe (repeatable)"
    )
    probe_p.add_argument(
        "--suite",
        default=str(Path(__file__).resolve().parents[1] / "scenarios" / "conformance"),
        help="the folder of probes (default: the suite that comes with syncsim)",
    )
    probe_p.add_argument(
        "--mutation",
        action="store_true",
        help="the suite's own test: every probe against a syncsim serve of its own, then each "
        "against one breaking its rule (exit 1 unless every probe passes, then fails)",
    )
    probe_p.add_argument("--workers", type=int, default=3, help="probes run at once (default 3)")
    probe_p.add_argument("--out", type=Path, help="default: a new reports/probe/<stamp>/")
    probe_p.set_defaults(handler=cmd_probe)
    sweep_p = commands.add_parser("sweep", help="one scenario over many seeds, in parallel")
    sweep_p.add_argument("scenario", help="a scenario file, or a name under scenarios/")
    sweep_p.add_argument("--seeds", required=True, help="which seeds: 1-200, or 1-5,9,20-22")
    sweep_p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="local processes (default: cores)"
    )
    sweep_p.add_argument(
        "--scheduler", help="a dask.distributed scheduler address (tcp://HOST:8786) instead"
    )
    _profile_option(sweep_p, "run every seed")
    sweep_p.add_argument(
        "--keep",
        choices=["failing", "none"],
        default="failing",
        help="keep the report of every seed that did not pass (default), or none",
    )
    sweep_p.add_argument("--out", type=Path, help="default: a new reports/<name>/<stamp>/")
    sweep_p.set_defaults(handler=cmd_sweep)
    explore_p = commands.add_parser(
        "explore", help="run variants of a scenario; shrink each failure to a minimal scenario"
    )
    explore_p.add_argument("scenario", help="a scenario file, or a name under scenarios/")
    explore_p.add_argument("--budget", type=int, default=20, help="variants to run (default 20)")
    _profile_option(explore_p, "explore it")
    explore_p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="local processes (default: cores)"
    )
    explore_p.add_argument(
        "--shrink", type=int, default=3, help="distinct failures to shrink at most (default 3)"
    )
    explore_p.add_argument(
        "--shrink-budget",
        type=int,
        default=400,
        help="candidate runs per shrink at most (default 400)",
    )
    explore_p.add_argument("--out", type=Path, help="default: a new reports/<name>/<stamp>/")
    explore_p.set_defaults(handler=cmd_explore)
    compare_p = commands.add_parser("compare", help="is NEW worse than BASE? (two report dirs)")
    compare_p.add_argument("base", help="a report directory, a folder of them, or a matrix dir")
    compare_p.add_argument("new", help="the same for the release under test")
    compare_p.add_argument(
        "--tolerance",
        type=float,
        default=10.0,
        metavar="PCT",
        help="relative change a metric may move the wrong way, in percent (default 10)",
    )
    compare_p.add_argument(
        "--out", type=Path, help="output directory (default: a new reports/compare/<stamp>/)"
    )
    compare_p.set_defaults(handler=cmd_compare)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with terminal_bars():  # a progress bar on stderr, at a terminal outside CI only
            return int(args.handler(args))
    except SyncsimError as error:
        print(f"syncsim: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # output piped into `head` and the like: not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
