"""`make fuzz`: hostile scenario documents at the loader, counted.

N documents (default 10,000) are made from the library's own scenarios by one seeded
`random.Random` (`--seed`): bytes flipped, inserted or cut; lines replaced by hostile YAML
(nesting thousands deep, alias bombs, recursive aliases, NaN and infinity, numbers of 400
digits, durations of 100000w, control characters, lines of megabytes, invalid UTF-8); values
of fields replaced by hostile ones. Each goes through `load` from a file, as `syncsim run`
reads it; a document the loader accepts is compiled into its plan, whose size is bounded.

Trouble counted, each must be 0 or the exit code is 1:
- tracebacks: anything raised but a ScenarioError (exit 2 with one line);
- multi-line: a refusal whose text spans lines;
- slow: a document refused or accepted in more than `--limit` seconds (default 1; a
  measurement of this machine, printed, never a test);
- unbounded: an accepted document whose plan exceeds 2,000,000 steps.

    python bench/fuzz_loader.py [--documents N] [--seed S] [--limit SECONDS]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from simulator.errors import ScenarioError
from simulator.plan.compile import compile_plan
from simulator.scenario.loader import load

ROOT = Path(__file__).resolve().parents[1]
MAX_STEPS = 2_000_000

HOSTILE_VALUES = [
    ".inf", "-.inf", ".nan", "1e400", "9" * 400, "100000w", "0s", "-1d", "1e9", "2**64",
    "\x00", "\x1b[31m", "\ud800", "[" * 3000 + "]" * 3000, "{a: " * 500 + "1" + "}" * 500,
    "*nowhere", "&a [*a]", "x" * 20_000, "'" + "y" * 5000 + "'", "!!python/object:os.system",
    "~", "[]", "{}", "true", "-", "? a", "|-\n  text",
]  # fmt: skip


def _alias_bomb(levels: int) -> str:
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n"
    return text


HOSTILE_LINES = [
    _alias_bomb(9),
    "x: &a [*a]\n",
    "deep:\n" + "".join("  " * i + f"k{i}:\n" for i in range(400)),
    "flow: " + "[" * 100_000 + "\n",
    "line: " + "z" * 2_000_000 + "\n",
    "\t\tbad: indent\n",
    "duration: .inf\n",
    "devices: " + "[" * 50 + "]" * 50 + "\n",
]


def _mutate(rng: random.Random, base: bytes) -> bytes:
    choice = rng.randrange(6)
    data = bytearray(base)
    if choice == 0:  # flip bytes
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
    elif choice == 1:  # insert raw bytes
        at = rng.randrange(len(data) + 1)
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
    elif choice == 2:  # cut
        at = rng.randrange(len(data) + 1)
        del data[at : at + rng.randint(1, 200)]
    elif choice == 3:  # a hostile line somewhere
        lines = bytes(data).split(b"\n")
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(HOSTILE_LINES).encode())
        data = bytearray(b"\n".join(lines))
    else:  # a field's value replaced
        lines = bytes(data).decode("utf-8", "replace").split("\n")
        keyed = [
            i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")
        ]
        if keyed:
            i = rng.choice(keyed)
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {rng.choice(HOSTILE_VALUES)}"
        data = bytearray("\n".join(lines).encode("utf-8", "surrogatepass"))
    return bytes(data)


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--documents", type=int, default=10_000)
    options.add_argument("--seed", type=int, default=1)
    options.add_argument("--limit", type=float, default=1.0)
    args = options.parse_args()
    rng = random.Random(args.seed)
    bases = [p.read_bytes() for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    counts: Counter[str] = Counter()
    slowest = 0.0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        for number in range(args.documents):
            path.write_bytes(_mutate(rng, rng.choice(bases)))
            started = time.perf_counter()
            try:
                loaded = load(path)
                steps = len(compile_plan(loaded.scenario).steps)
                counts["accepted"] += 1
                counts["unbounded"] += steps > MAX_STEPS
            except ScenarioError as error:
                counts["refused"] += 1
                counts["multi-line"] += "\n" in str(error)
            except Exception:
                counts["tracebacks"] += 1
                if counts["tracebacks"] <= 3:
                    print(f"document {number}:\n{traceback.format_exc()}", file=sys.stderr)
            took = time.perf_counter() - started
            slowest = max(slowest, took)
            counts["slow"] += took > args.limit
    trouble = ["tracebacks", "multi-line", "slow", "unbounded"]
    print(
        f"loader: {args.documents} documents  refused={counts['refused']}  "
        f"accepted={counts['accepted']}  "
        + "  ".join(f"{name}={counts[name]}" for name in trouble)
        + f"  (slowest {slowest:.2f} s)"
    )
    bad = any(counts[name] for name in trouble)
    print("fuzz loader: " + ("TROUBLE" if bad else "OK, every count of trouble is 0"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
