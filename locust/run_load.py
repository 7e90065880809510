"""`make load`: a short headless distributed load test, results in results/.

Starts the service on the embedded database when nothing answers at --host, then a
Locust master and --workers workers on 127.0.0.1, waits for the master, stops the rest.
The master-worker port and the exporter listen on 127.0.0.1 only: a worker that connects
is handed load-test users' logins, so the port is no place for other machines unless the
network between them is trusted (docs/load-tests.md says how to open it).
A service already running at --host is taken as `make run`'s sandbox when its admin is
admin/admin (a real database refuses that password); otherwise LOADWATCH_ADMIN_PASSWORD
must name its admin's password, or ``--user-pool 0`` run without the pool.
Writes results/load_*.csv and results/load.html (``--name`` for another name). Exits with
the master's code, so a broken threshold fails the command.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent


def answers(url: str) -> bool:
    try:
        with urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not answers(url):
        if time.monotonic() > deadline:
            raise SystemExit(f"run_load: the service at {url} did not answer")
        time.sleep(0.2)


def sandbox_admin(url: str) -> bool:
    """Whether the service at ``url`` takes the embedded sandbox's admin/admin."""
    body = json.dumps({"username": "admin", "password": "admin"}).encode()
    login = Request(  # noqa: S310 - our own URL
        f"{url}/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urlopen(login, timeout=10) as response:  # noqa: S310
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("LOAD_HOST", "http://127.0.0.1:8000"))
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=10)
    # Long and dense enough that the busy endpoints get the timings a baseline verdict
    # needs (docs/loadkit.md: "Is this run slower than the last good one?").
    parser.add_argument("--run-time", default="90s")
    parser.add_argument("--pacing", type=float, default=0.25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--name", default="load", help="of the results: NAME.html, NAME_*.csv")
    args, extra = parser.parse_known_args()  # the rest goes to the master (thresholds, …)

    args.results.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    env = {**os.environ}
    if not answers(args.host):
        port = args.host.rsplit(":", 1)[-1].strip("/")
        print(f"run_load: starting the service on the embedded database at {args.host}")
        env_service = {**env, "PORT": port, "ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin"}
        env.setdefault("LOADWATCH_ADMIN_PASSWORD", "admin")  # the admin of the service started here
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "rest_service", "serve"],
                cwd=ROOT,
                env=env_service,
                stdout=subprocess.DEVNULL,
            )
        )
        wait_for(args.host)
    elif "LOADWATCH_ADMIN_PASSWORD" not in env and "--user-pool" not in " ".join(extra):
        if not sandbox_admin(args.host):
            print(
                f"run_load: the service at {args.host} does not take the sandbox's admin/admin: "
                "set LOADWATCH_ADMIN_PASSWORD to its admin's password, or pass --user-pool 0",
                file=sys.stderr,
            )
            return 2
        print(f"run_load: the service at {args.host} is the embedded sandbox (admin/admin)")
        env["LOADWATCH_ADMIN_PASSWORD"] = "admin"  # noqa: S105 - the sandbox's, by design
    locust = [sys.executable, "-m", "locust", "--config", str(ROOT / "locust" / "locust.conf")]
    master = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            *locust,
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--exporter-host",
            "127.0.0.1",
            "--headless",
            "--expect-workers",
            str(args.workers),
            "-H",
            args.host,
            "-u",
            str(args.users),
            "-r",
            str(args.spawn_rate),
            "-t",
            args.run_time,
            "--pacing",
            str(args.pacing),
            "--user-pool",
            str(args.users),
            "--csv",
            str(args.results / args.name),
            "--html",
            str(args.results / f"{args.name}.html"),
            *extra,
        ],
        cwd=ROOT,
        env=env,
    )
    processes += [
        subprocess.Popen([*locust, "--worker", "--master-host", "127.0.0.1"], cwd=ROOT, env=env)  # noqa: S603
        for _ in range(args.workers)
    ]
    try:
        code = master.wait()
    except KeyboardInterrupt:
        stop(master)
        code = 130
    finally:
        for process in reversed(processes):
            stop(process)
    print(
        f"run_load: results in {args.results}/{args.name}.html and {args.results}/{args.name}_*.csv"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
