"""cpu-monitor's figures beyond CPU, read from the real psutil of this machine: what each
reading holds, that the service takes it as it is, a process tree's CPU and memory, the
options that choose them, and the report."""

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psutil
import pytest
from cpu_monitor.cli import main
from cpu_monitor.options import build_parser
from cpu_monitor.report import FIGURES, FigureStats, Report, RunStats
from cpu_monitor.sampler import GROUPS, ProcessGone, ProcessTree, Sampler, find_process

from rest_service.domain.schemas import SAMPLE_FIELDS, SampleIn

BUSY = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass\n"


@pytest.fixture
def busy_child() -> Iterator[subprocess.Popen[bytes]]:
    """A process that keeps one core busy, with a sleeping child of its own."""
    script = "import subprocess, sys\n" + (
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n" + BUSY
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    root = psutil.Process(process.pid)
    deadline = time.monotonic() + 10
    while not root.children() and time.monotonic() < deadline:
        time.sleep(0.05)  # a loaded machine may take a while to start the child
    family = [root, *root.children(recursive=True)]
    assert len(family) == 2, "the busy process did not start its child"
    yield process
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()


def test_a_reading_carries_every_machine_figure_and_the_service_takes_it() -> None:
    sampler = Sampler()
    time.sleep(0.3)
    reading = sampler.read()
    expected = set(SAMPLE_FIELDS) - {"process_cpu_percent", "process_rss_bytes"}
    if not psutil.disk_io_counters():
        expected -= {"disk_read_bytes_per_second", "disk_write_bytes_per_second"}
    assert set(reading.figures) == expected
    assert 0 < reading.figures["memory_available_bytes"] <= psutil.virtual_memory().total
    assert all(value >= 0 for value in reading.figures.values())
    sample = {
        "seq": 0,
        "timestamp": datetime.now(UTC).isoformat(),
        "cpu_percent": reading.cpu_percent,
        **reading.figures,
    }
    assert SampleIn.model_validate(sample).figures() == reading.figures


def test_collect_none_reads_only_the_total() -> None:
    reading = Sampler(groups=()).read()
    assert reading.figures == {} and 0 <= reading.cpu_percent <= 100


def test_network_rates_follow_the_bytes_sent() -> None:
    sampler = Sampler(groups=("network",))
    received = psutil.net_io_counters(pernic=True)
    if all(name == "lo" for name in received):
        pytest.skip("no interface but loopback")
    time.sleep(0.2)
    rates = sampler.read().figures
    assert set(rates) == {"network_receive_bytes_per_second", "network_transmit_bytes_per_second"}


def test_a_process_tree_is_its_cpu_and_memory(busy_child: subprocess.Popen[bytes]) -> None:
    tree = ProcessTree(find_process(busy_child.pid, None))
    alone = psutil.Process(busy_child.pid)
    alone.cpu_percent(interval=None)
    time.sleep(1.0)
    figures = tree.read()
    # The busy process's own share over the same second: a loaded machine gives it less
    # than a core, and the sleeping child adds nothing.
    expected = alone.cpu_percent(interval=None)
    assert expected > 20
    assert abs(figures["process_cpu_percent"] - expected) < 10
    own = psutil.Process(busy_child.pid).memory_info().rss
    assert figures["process_rss_bytes"] > own  # the sleeping child's memory is added
    for member in psutil.Process(busy_child.pid).children(recursive=True):
        member.kill()
    busy_child.kill()
    busy_child.wait()
    # SIGKILL takes effect when the kernel next schedules the grandchild, which on a loaded
    # machine may be after this line: the tree must be gone soon, not at once.
    deadline = time.monotonic() + 10
    with pytest.raises(ProcessGone):
        while time.monotonic() < deadline:
            tree.read()
            time.sleep(0.05)


def test_a_process_is_found_by_name_once_per_tree() -> None:
    assert find_process(None, "no-such-program-anywhere") == []
    assert find_process(2**22 + 12345, None) == []
    me = psutil.Process()
    roots = find_process(None, me.name())
    assert me.pid not in [root.pid for root in roots]  # never the monitor itself


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--collect", "memory,gpu"], "--collect: unknown gpu"),
        (["--collect", ""], "--collect: unknown empty list"),
        (["--mem-threshold", "120"], "--mem-threshold must be within 0-100"),
        (["--collect", "disk", "--mem-threshold", "90"], "--mem-threshold needs memory"),
        (["--pid", "0"], "--pid must be a process id"),
        (["--pid", "1", "--process", "x"], "not allowed with argument"),
    ],
)
def test_bad_options_are_one_error_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_process_that_is_not_running_is_an_error_before_any_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPU_MONITOR_TOKEN", "lw_unused")
    code = main(["--url", "http://127.0.0.1:9", "--process", "no-such-program-anywhere"])
    assert code == 1
    assert "no process called 'no-such-program-anywhere' is running" in capsys.readouterr().err


def test_collect_defaults_to_every_group() -> None:
    args = build_parser().parse_args([])
    assert args.collect == "all" and GROUPS == ("cpu-split", "memory", "load", "disk", "network")


def test_the_report_gives_avg_p95_and_max_of_each_figure_in_its_unit() -> None:
    figures = FigureStats()
    for i in range(1, 101):
        figures.add(
            {
                "memory_used_percent": float(i),
                "disk_write_bytes_per_second": 1024.0 * i,
                "process_rss_bytes": 2.0**20 * i,
                "load_1m": i / 100,
            }
        )
    memory = RunStats(50.0)
    memory.add(0.0, 60.0)
    memory.add(4.0, 40.0)
    report = Report("r", "n", 10.0, RunStats(80.0), 100, 100, 0, figures=figures, memory=memory)
    lines = "\n".join(report.lines())
    assert "memory used:" in lines and "avg 50.5%  p95 95.0%  max 100.0%" in lines
    assert "disk write:" in lines and "max 100.0 KiB/s" in lines
    assert "max 100.0 MiB" in lines and "max 1.00" in lines
    assert "memory above 50%:" in lines and "~4.0 s (40.0% of the run)" in lines
    assert "network" not in lines  # what was not recorded is not shown


def test_the_report_has_a_label_for_every_field_the_service_takes() -> None:
    # The monitor installs without the service, so it names the fields itself: a field
    # missing here would be recorded but left out of the report.
    assert tuple(FIGURES) == SAMPLE_FIELDS
