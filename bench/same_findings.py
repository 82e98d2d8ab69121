"""Proof that a change to the checker, the history or the report changes no verdict.

`record DIR` runs every library scenario under every profile (scenarios/*.yaml; legacy,
proposed, seq) and every conformance probe against the reference server, whole and with its
own rule broken (scenarios/conformance/*.yaml under the profile each names), and keeps each
run's summary.json content (verdict, anomaly counts, metrics, expectations, every finding with
its evidence, the history hash and row count) and its history.jsonl in DIR/<case>/.

`compare DIR` does the same runs again and prints every case whose summary differs from the
one recorded, field by field; `compare DIR --saved` re-judges the recorded histories instead of
simulating (the checker alone, in a fraction of the time) and also checks that each history,
read back and encoded again, is byte for byte the file it was read from. Exit 1 on any
difference.

The summaries are compared whole, so the findings must come in the same order with the same
text, evidence rows, writes and times, and the metrics must be equal to the last bit.

`golden DIR` copies a few recorded cases (`GOLDEN`) into tests/checker/golden/ as the fixtures
of tests/checker/test_golden.py: each history gzipped, with the findings and metrics its check
gave. Run it again, and say why in the commit, only when a change is meant to change findings.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.history import History
from simulator.protocol.breaks import Break
from simulator.report.summary import summary
from simulator.runner import run
from simulator.scenario.loader import Loaded, load
from simulator.verdict import Run, judge_history

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("legacy", "proposed", "seq")
GOLDEN_DIR = ROOT / "tests" / "checker" / "golden"
# Small histories that between them show every anomaly a library run finds and every server
# rule broken (the probes against a server breaking their rule).
GOLDEN = (
    "clock_skew-legacy",
    "network_interruption_recovery-legacy",
    "offline_week-legacy",
    "precise_conflicts-legacy",
    "reload_with_unsent-legacy",
    "repertoire_on_connect-legacy",
    "stale_replay-legacy",
    *(f"probe-{rule.value}-broken" for rule in Break),
)


@dataclass(frozen=True)
class Case:
    name: str  # the folder the case is kept in
    path: Path
    profile: str | None  # None: the profile the scenario names
    breaks: frozenset[Break] = frozenset()

    def loaded(self) -> Loaded:
        return load(self.path, self.profile)


def cases(only: Sequence[str] = ()) -> Iterator[Case]:
    """Every library scenario under every profile, then every probe whole and broken."""
    found: list[Case] = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        found += [Case(f"{path.stem}-{p}", path, p) for p in PROFILES]
    for path in sorted((ROOT / "scenarios" / "conformance").glob("*.yaml")):
        found.append(Case(f"probe-{path.stem}", path, None))
        found.append(Case(f"probe-{path.stem}-broken", path, None, frozenset({Break(path.stem)})))
    return (c for c in found if not only or any(o in c.name for o in only))


def facts(judged: Run) -> dict[str, Any]:
    """What summary.json holds, as it would be written and read back."""
    loaded: dict[str, Any] = json.loads(json.dumps(summary(judged)))
    return loaded


def record(folder: Path, only: Sequence[str]) -> int:
    for case in cases(only):
        start = time.process_time()
        judged = run(case.loaded(), breaks=case.breaks)
        kept = folder / case.name
        kept.mkdir(parents=True, exist_ok=True)
        judged.history.save(kept / "history.jsonl")
        (kept / "summary.json").write_text(json.dumps(facts(judged), indent=1) + "\n")
        print(f"{case.name}: {len(judged.history)} rows, {time.process_time() - start:.1f} s")
    return 0


def differences(before: Any, after: Any, where: str = "") -> Iterator[str]:
    """Each place two summaries differ, by its path in the document."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            yield from differences(before.get(key), after.get(key), f"{where}.{key}")
    elif isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            yield f"{where}: {len(before)} items before, {len(after)} after"
        for index, (old, new) in enumerate(zip(before, after, strict=False)):
            yield from differences(old, new, f"{where}[{index}]")
    elif before != after or type(before) is not type(after):
        yield f"{where}: {before!r} before, {after!r} after"


def _rejudge(case: Case, kept: Path) -> tuple[Run, list[str]]:
    path = kept / "history.jsonl"
    history = History.load(path)
    problems = [] if history.encoded() == path.read_bytes() else ["history re-encoded differs"]
    return judge_history(case.loaded(), history), problems


def compare(folder: Path, only: Sequence[str], saved: bool) -> int:
    failed = 0
    for case in cases(only):
        kept = folder / case.name
        if not (kept / "summary.json").is_file():
            print(f"{case.name}: not recorded")
            failed += 1
            continue
        start = time.process_time()
        if saved:
            judged, problems = _rejudge(case, kept)
        else:
            judged, problems = run(case.loaded(), breaks=case.breaks), []
        before = json.loads((kept / "summary.json").read_text())
        problems += list(differences(before, facts(judged)))
        spent = time.process_time() - start
        print(f"{case.name}: {'same' if not problems else 'DIFFERENT'} ({spent:.1f} s)")
        for problem in problems[:20]:
            print(f"  {problem}")
        failed += bool(problems)
    print(f"{failed} case(s) differ" if failed else "every case is the same")
    return 1 if failed else 0


def golden(folder: Path) -> int:
    """The fixtures of tests/checker/test_golden.py, from recorded cases."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in GOLDEN:
        raw = (folder / name / "history.jsonl").read_bytes()
        # mtime 0: the same history gives the same file.
        (GOLDEN_DIR / f"{name}.jsonl.gz").write_bytes(gzip.compress(raw, 9, mtime=0))
        kept = json.loads((folder / name / "summary.json").read_text())
        judged = {"findings": kept["findings"], "metrics": kept["metrics"]}
        (GOLDEN_DIR / f"{name}.json").write_text(json.dumps(judged, indent=1) + "\n")
        print(f"{name}: {len(raw):,} bytes, {len(kept['findings'])} findings")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("action", choices=("record", "compare", "golden"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--only", action="append", default=[], help="cases whose name has this")
    parser.add_argument("--saved", action="store_true", help="re-judge the recorded histories")
    args = parser.parse_args(argv)
    if args.action == "record":
        return record(args.folder, args.only)
    if args.action == "golden":
        return golden(args.folder)
    return compare(args.folder, args.only, args.saved)


if __name__ == "__main__":
    sys.exit(main())
