"""`make load-duet BASE=<commit>`: loadwatch's own gate as a duet.

Serves BASE from a temporary git worktree (with its own locked venv) and the working tree
beside it, each on its own embedded database and port of 127.0.0.1, then runs `make load`'s
scenario (`run_load.py`) with the users split between them: BASE is the baseline, the
working tree the candidate. The verdict, paired in time, is printed and written to
results/duet.compare.json (the schema of load.compare.json), the report to
results/duet.html. Environment variables that start with CANDIDATE_ reach the candidate's
service only, without the prefix:

    CANDIDATE_INJECT_LATENCY_MS=3 'CANDIDATE_INJECT_LATENCY_ROUTE=/runs/{id}/samples' \\
        make load-duet BASE=HEAD

`BASE=HEAD` is an A/A duet of the working tree's own commit. Every other argument goes to
`run_load.py` and the master (`--run-time 60s`, `--fail-on-regression`, ...). Ctrl-C stops
everything it started.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

from run_load import ROOT, stop, wait_for

sys.path.insert(0, str(ROOT))  # the repository's own helpers, as `make` runs this script

from benchmarks.compare_commits import base_worktree
from tests.live import free_port

PREFIX = "CANDIDATE_"
ADMIN = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin"}  # each embedded sandbox's


def service_env(port: int, candidate: bool) -> dict[str, str]:
    """The environment of one side's service: CANDIDATE_ variables reach the candidate
    only, without their prefix, and neither side sees the other's."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    own = {k[len(PREFIX) :]: v for k, v in os.environ.items() if k.startswith(PREFIX)}
    plain.pop("MONGODB_URL", None)  # each side on its own embedded database
    return {**plain, **(own if candidate else {}), **ADMIN, "PORT": str(port)}


def serve(tree: Path, python: str, port: int, candidate: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [python, "-m", "rest_service", "serve"],
        cwd=tree,
        env=service_env(port, candidate),
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the baseline's commit (HEAD: A/A)")
    args, extra = parser.parse_known_args()
    check = subprocess.run(  # noqa: S603 - git, on the user's own commit name
        ["git", "rev-parse", "--verify", "--quiet", f"{args.base}^{{commit}}"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        print(f"run_duet: error: no commit {args.base!r} in this repository", file=sys.stderr)
        return 2
    baseline_port, candidate_port = free_port(), free_port()
    baseline = f"http://127.0.0.1:{baseline_port}"
    candidate = f"http://127.0.0.1:{candidate_port}"
    processes: list[subprocess.Popen[bytes]] = []
    print(f"run_duet: serving {args.base} at {baseline} and the working tree at {candidate}")
    try:
        with base_worktree(args.base) as tree:
            processes.append(
                serve(tree, str(tree / ".venv" / "bin" / "python"), baseline_port, False)
            )
            processes.append(serve(ROOT, sys.executable, candidate_port, True))
            wait_for(baseline, 60)
            wait_for(candidate, 60)
            load = [sys.executable, str(ROOT / "locust" / "run_load.py")]
            command = [*load, "--host", baseline, "--candidate-host", candidate, "--name", "duet"]
            env = {**os.environ, "LOADWATCH_ADMIN_PASSWORD": ADMIN["ADMIN_PASSWORD"]}
            run = subprocess.run([*command, *extra], cwd=ROOT, env=env, check=False)  # noqa: S603
            code = run.returncode
    except KeyboardInterrupt:
        code = 130
    finally:
        for process in reversed(processes):
            stop(process)
    print(f"run_duet: the verdict in {ROOT / 'results' / 'duet.compare.json'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
