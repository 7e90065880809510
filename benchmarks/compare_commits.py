"""`make bench-compare BASE=<commit>`: the storage and ingest benchmarks on a commit and on
the working tree, in turn, on this machine in one session, with the ratio of each figure;
and Locust's single-sample writes (benchmarks.locust_writes, this tree's Locust) against
each side's service.

The base commit is checked out into a temporary git worktree with its own locked venv.
Rounds alternate which side runs first (base, tree; then tree, base; ...): on these
machines whichever runs second in a pair can read slower, and alternating cancels that.
Each figure is the median over the rounds; the ratio is the working tree's over the base's
(above 1 means more of it: for a time, slower; for a rate, faster). Beside them: the load
average and one bcrypt check at 12 rounds, as `benchmarks.storage` prints them.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ("storage", "ingest")


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def _flatten(prefix: str, value: Any, into: dict[str, float]) -> None:
    """Every number of a benchmark's JSON line, by its dotted path."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        into[prefix] = float(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, into)


def run_benchmark(tree: Path, name: str, *args: str) -> dict[str, float]:
    """One benchmark in ``tree`` (with that tree's venv); its figures by name."""
    result = subprocess.run(
        [str(tree / ".venv" / "bin" / "python"), "-m", f"benchmarks.{name}", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=1800,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        sys.exit(f"bench-compare: benchmarks.{name} failed in {tree}:\n{result.stderr[-2000:]}")
    figures: dict[str, float] = {}
    _flatten(name, json.loads(lines[-1]), figures)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, alternated")
    args = parser.parse_args()
    with base_worktree(args.base) as base_tree:
        sides: dict[str, list[dict[str, float]]] = {"base": [], "tree": []}
        for round_ in range(args.rounds):
            order = ["base", "tree"] if round_ % 2 == 0 else ["tree", "base"]
            for side in order:
                tree = base_tree if side == "base" else ROOT
                figures: dict[str, float] = {}
                for name in BENCHMARKS:
                    figures.update(run_benchmark(tree, name))
                # Locust's writes: this tree's Locust against that tree's service.
                figures.update(run_benchmark(ROOT, "locust_writes", "--tree", str(tree)))
                sides[side].append(figures)
                print(f"round {round_ + 1}: {side} done", flush=True)
    report(args.base, sides)


@contextmanager
def base_worktree(commit: str) -> Iterator[Path]:
    """The commit checked out in a temporary git worktree, with its own locked venv."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--quiet", "--detach", str(tree), commit],
            cwd=ROOT,
            check=True,
        )
        try:
            subprocess.run([*_uv(), "sync", "--locked", "--quiet"], cwd=tree, check=True)
            yield tree
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
            )


def report(base: str, sides: dict[str, list[dict[str, float]]]) -> None:
    names = sorted(set(sides["base"][0]) & set(sides["tree"][0]))
    print(f"\n{'figure':<58} {'base ' + base[:10]:>16} {'working tree':>14} {'ratio':>7}")
    for name in names:
        base_value = statistics.median(run[name] for run in sides["base"] if name in run)
        tree_value = statistics.median(run[name] for run in sides["tree"] if name in run)
        ratio = f"{tree_value / base_value:.3f}" if base_value else "-"
        print(f"{name:<58} {base_value:>16,.1f} {tree_value:>14,.1f} {ratio:>7}")


if __name__ == "__main__":
    main()
