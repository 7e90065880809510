"""Real processes on 127.0.0.1 for tests and benchmarks, started and stopped in one place."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.metrics_text import value

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ok(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {last}")


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGINT like Ctrl-C, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_service(
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    factory: str | None = None,
    port: int | None = None,
    tree: Path = ROOT,
) -> Iterator[Service]:
    """`python -m rest_service serve` on a free port, embedded database unless env says else.

    ``factory`` ("module:function", importable from the repository root) serves another
    app factory through uvicorn instead, for benchmarks that compare variants. ``tree`` is
    another checkout with its own venv (a benchmark's base commit), served in its place.
    """
    python = sys.executable if tree == ROOT else str(tree / ".venv" / "bin" / "python")
    port = port or free_port()
    full_env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BCRYPT_ROUNDS": "4",
        "LOG_LEVEL": "warning",
        **(env or {}),
    }
    if "MONGODB_URL" not in (env or {}):
        full_env.pop("MONGODB_URL", None)  # the embedded database, whatever the shell has
    log_path = (log_dir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"service-{port}.log"
    with log_path.open("wb") as log:
        command = [python, "-m", "rest_service", "serve"]
        if factory is not None:
            command = [
                python,
                "-m",
                "uvicorn",
                factory,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",  # as `serve` runs above "info"
            ]
        process = subprocess.Popen(
            command,
            cwd=tree,
            env={k: v for k, v in full_env.items() if k != "VIRTUAL_ENV"}
            if tree != ROOT
            else full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{url}/readyz", process=process)
        yield Service(url, process, log_path)
    finally:
        stop(process)


# The real wire-protocol server (FerretDB on SQLite), built by `make mongo-server`.
MONGO_SERVER = ROOT / ".tools" / "mongo-server"
NO_REAL_SERVER = (
    "no real MongoDB server: install Go (`make mongo-server` builds FerretDB into .tools/) "
    "or set MONGODB_URL to a MongoDB"
)


@contextmanager
def running_mongo_server(data_dir: Path, port: int | None = None) -> Iterator[str]:
    """FerretDB on 127.0.0.1, its SQLite files in ``data_dir``; yields its MongoDB URL."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "mongo-server.log").open("ab") as log:
        process = subprocess.Popen(
            [str(MONGO_SERVER), "-listen-addr", f"127.0.0.1:{port}", "-data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mongo-server did not start: see {log.name}") from None
                time.sleep(0.05)
        yield f"mongodb://127.0.0.1:{port}/"
    finally:
        stop(process)


@contextmanager
def real_mongodb(data_dir: Path) -> Iterator[str]:
    """A real server's URL: MONGODB_URL when it is set, else FerretDB started here. Without
    either the test skips, saying how to run it, except under CI, where it fails."""
    if os.environ.get("MONGODB_URL", "").startswith("mongodb"):
        yield os.environ["MONGODB_URL"]
        return
    if not MONGO_SERVER.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(NO_REAL_SERVER + " (CI=true: the tests on a real server must run)")
        pytest.skip(NO_REAL_SERVER)
    with running_mongo_server(data_dir) as url:
        yield url


PROMETHEUS_DIR = ROOT / "prometheus"


def prometheus_binary(name: str = "prometheus") -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} is not installed: `make test` installs Debian's prometheus package "
            "(apt-get install -y prometheus)"
        )
    return found


def local_prometheus_config(
    targets: Mapping[str, str], scrape_interval: str = "1s"
) -> dict[str, Any]:
    """prometheus/prometheus.local.yml with its targets moved to the given host:ports."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.local.yml").read_text())
    config["global"]["scrape_interval"] = scrape_interval
    config["global"]["evaluation_interval"] = scrape_interval
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"{expr!r}: {body.get('error', body)}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until the expression returns at least one series."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


@contextmanager
def running_prometheus(
    config: Mapping[str, Any], workdir: Path, port: int | None = None
) -> Iterator[Prometheus]:
    """A real Prometheus on 127.0.0.1 with this configuration, its data in workdir."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config)))
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            prometheus_binary(),
            f"--config.file={config_path}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={workdir / 'data'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{url}/-/ready", process=process)
        yield Prometheus(url, process)
    finally:
        stop(process)
        log.close()


class TcpProxy:
    """A TCP relay on 127.0.0.1 that a test can cut (connections refused, open ones
    dropped) and restore on the same port, to simulate the service going away."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


LOCUSTFILE = ROOT / "locust" / "locustfile.py"


def locust_master_args(port: int, workers: int) -> list[str]:
    """A Locust master on 127.0.0.1 that waits for its workers before it starts."""
    return [
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(workers),
    ]


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def headless_test_args(users: int, seconds: int, pacing: float, results_db: str) -> list[str]:
    """A test of loadwatch's scenario: ``users`` users spawned at once, each with an account
    of the pool, for ``seconds``, recorded in ``results_db``; the master stays up after it."""
    return [
        *("-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--autoquit", "0"),
        *("--pacing", str(pacing), "--user-pool", str(users), "--results-db", results_db),
    ]


def chromium_screenshot(url: str, png: Path, size: str = "1400,1100", wait_ms: int = 2000) -> None:
    """A PNG of the page, as headless Chromium renders it (Debian's chromium package)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("chromium is missing: `make system-deps` installs Debian's package")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={size}",
                f"--virtual-time-budget={wait_ms}",
                f"--screenshot={png}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


@dataclass
class LocustCluster:
    master: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    web_url: str
    exporter_url: str
    logs: Path

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@contextmanager
def running_locust(
    host: str,
    workdir: Path,
    master_args: list[str],
    workers: int = 2,
    autostart: bool = True,
    env: dict[str, str] | None = None,
    worker_locustfile: Path | None = None,
    master_locustfile: Path | None = None,
) -> Iterator[LocustCluster]:
    """A Locust master (web UI, exporter) and its workers as real processes on 127.0.0.1;
    with ``workers=0``, one process in local mode.

    As in the compose stack, only the master gets ``env`` (the secrets): workers run with
    none of the LOADWATCH_* variables, and with ``worker_locustfile`` when given (the
    master with ``master_locustfile``).

    With ``autostart`` the master runs with ``--autostart``: the web UI and its routes are
    up while the test runs by itself, and ``--autoquit`` ends it. Without, tests start from
    the web UI, and the master runs until it is stopped.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    master_port, web_port, exporter_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "LOADWATCH_ADMIN_USERNAME": "admin",
        "LOADWATCH_ADMIN_PASSWORD": "admin-password",
        **(env or {}),
    }
    worker_env = {k: v for k, v in os.environ.items() if not k.startswith("LOADWATCH_")}
    processes: list[subprocess.Popen[bytes]] = []

    def start(
        name: str, args: list[str], process_env: dict[str, str] = env, locustfile: Path = LOCUSTFILE
    ) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "locust", "-f", str(locustfile), *args]
        with (workdir / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT
            )
        processes.append(process)
        return process

    distributed = locust_master_args(master_port, workers) if workers else []
    master = start(
        "master",
        [
            *distributed,
            # Never the user's results/: a test that wants the store names its own (the
            # last --results-db given wins).
            "--results-db",
            str(workdir / "results.sqlite"),
            *(["--autostart"] if autostart else []),
            "-H",
            host,
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(web_port),
            "--exporter-host",
            "127.0.0.1",
            "--exporter-port",
            str(exporter_port),
            *master_args,
        ],
        locustfile=master_locustfile or LOCUSTFILE,
    )
    worker_processes = [
        start(
            f"worker-{i}",
            ["--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)],
            worker_env,
            worker_locustfile or LOCUSTFILE,
        )
        for i in range(workers)
    ]
    exporter_url = f"http://127.0.0.1:{exporter_port}/metrics"
    try:
        wait_until_ok(exporter_url, process=master)
        yield LocustCluster(
            master, worker_processes, f"http://127.0.0.1:{web_port}", exporter_url, workdir
        )
    finally:
        for process in processes:
            stop(process, timeout=30)


def wait_for_users(exporter_url: str, users: int, timeout: float = 60) -> None:
    """The run starts when both workers have connected, which takes longer on a cold machine."""
    deadline = time.monotonic() + timeout
    while value(httpx.get(exporter_url).text, "locust_users") != users:
        assert time.monotonic() < deadline, f"fewer than {users} users after {timeout:g} s"
        time.sleep(0.2)
