"""cpu-monitor's pure parts: the schedule (fake clock), the report arithmetic, thresholds."""

import signal
import threading
from datetime import UTC, datetime

import pytest
from cpu_monitor import recording
from cpu_monitor.recording import effective_batch_size
from cpu_monitor.report import Report, RunStats, duration_text
from cpu_monitor.resending import _batches
from cpu_monitor.schedule import Ticker
from cpu_monitor.sender import MAX_BATCH, fitting
from cpu_monitor.watch import Display, ThresholdWatch

WALL = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False


def test_ticks_do_not_drift_whatever_each_tick_costs() -> None:
    clock = FakeClock()
    ticker = Ticker(0.5, clock=clock, wait=clock.wait)
    fired = []
    for k, due in ticker:
        fired.append((k, due, clock.now))
        clock.now += 0.3 if k % 2 else 0.05  # the work of a tick, uneven
        if k == 200:
            break
    assert [k for k, _, _ in fired] == list(range(1, 201))
    for k, due, at in fired:
        assert due == pytest.approx(100.0 + 0.5 * k)
        assert at == pytest.approx(due)  # it fired exactly when due, tick 200 included


def test_a_late_tick_fires_at_once_and_a_missed_one_is_skipped() -> None:
    clock = FakeClock()
    ticker = Ticker(1.0, clock=clock, wait=clock.wait)
    seen = []
    for k, _due in ticker:
        seen.append(k)
        if k == 2:
            clock.now += 1.4  # tick 3 is 0.4 s late: it still fires, at once
        if k == 3:
            clock.now += 3.5  # ticks 4-6 are past by more than an interval: skipped
        if k == 7:
            break
    assert seen == [1, 2, 3, 7]


def test_stopping_ends_the_ticks() -> None:
    stop = threading.Event()
    ticker = Ticker(0.01, stop=stop)
    count = 0
    for _ in ticker:
        count += 1
        if count == 3:
            stop.set()
    assert count == 3


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        Ticker(0)


def test_stats_and_time_above_threshold() -> None:
    stats = RunStats(threshold=50)
    for at, value in [(0, 10), (1, 60), (2, 70), (3, 50), (4, 90)]:
        stats.add(at, value)
    stats.close(4.5)  # the last sample above counts until the end
    assert stats.seconds_above == pytest.approx(2.5)
    assert stats.average == 56
    assert stats.maximum == 90
    assert stats.p95 == pytest.approx(86.0)  # 70 + (90 - 70) * 0.8


def test_empty_stats() -> None:
    stats = RunStats(threshold=50)
    stats.close(1.0)
    assert (stats.average, stats.maximum, stats.p95, stats.seconds_above) == (None, None, None, 0)


def test_report_lines() -> None:
    stats = RunStats(threshold=80)
    stats.add(0, 90)
    stats.add(30, 10)
    text = "\n".join(
        Report(
            "r1", "nightly", 120.0, stats, taken=2, sent=1, undelivered=1, spool_path="s.jsonl"
        ).lines()
    )
    assert "r1 (nightly)" in text
    assert "2m00s" in text
    assert "~30.0 s (25.0% of the run)" in text
    for label, figure in [("taken", "2"), ("sent", "1"), ("not delivered", "1")]:
        assert any(
            line.strip().startswith(f"samples {label}:") and line.endswith(figure)
            for line in text.splitlines()
        )
    assert "CPU average:" in text and "50.0%" in text
    assert "cpu-monitor --resend s.jsonl" in text


def test_durations_read_well() -> None:
    assert duration_text(4.25) == "4.2 s"
    assert duration_text(61) == "1m01s"
    assert duration_text(3725) == "1h02m05s"


def test_threshold_warns_once_per_crossing_and_equal_is_not_above() -> None:
    watch = ThresholdWatch(threshold=80)
    crossings = [watch.update(t, WALL, v) for t, v in enumerate([79, 80, 81, 95, 99, 80, 85, 70])]
    fired = [(i, c) for i, c in enumerate(crossings) if c]
    assert [(i, c.name) for i, c in fired] == [
        (2, "threshold_exceeded"),
        (5, "threshold_cleared"),
        (6, "threshold_exceeded"),
        (7, "threshold_cleared"),
    ]
    exceeded, cleared = fired[0][1], fired[1][1]
    assert "above the threshold 80%" in exceeded.message() and "81.0%" in exceeded.message()
    assert "back below 80%" in cleared.message() and "after 3.0 s" in cleared.message()
    assert exceeded.event() == {
        "category": "monitor",
        "name": "threshold_exceeded",
        "timestamp": WALL.isoformat(),
        "data": {"cpu_percent": 81, "threshold": 80},
    }
    assert cleared.event()["data"] == {"cpu_percent": 80, "threshold": 80, "seconds_above": 3.0}


def test_display_prints_once_per_period_with_its_average() -> None:
    display = Display(every=5, started=0.0)
    lines = [display.update(float(t), WALL, float(t * 10)) for t in range(1, 11)]
    printed = [(t + 1, line) for t, line in enumerate(lines) if line]
    assert [t for t, _ in printed] == [5, 10]
    assert "CPU  50.0%" in printed[0][1] and "average  30.0%" in printed[0][1]
    assert "average  80.0%" in printed[1][1]


def test_batches_shrink_when_the_interval_is_long() -> None:
    assert effective_batch_size(10, 1) == 10
    assert effective_batch_size(10, 3) == 3
    assert effective_batch_size(10, 60) == 1
    assert effective_batch_size(5, 0.1) == 5


def test_help_shows_defaults_but_never_a_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cpu_monitor import __version__
    from cpu_monitor.options import build_parser

    monkeypatch.setenv("CPU_MONITOR_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("CPU_MONITOR_TOKEN", "lw_token-secret")
    monkeypatch.setenv("CPU_MONITOR_INTERVAL", "2.5")
    parser = build_parser()
    text = parser.format_help()
    assert "seconds between samples (default: 2.5)" in text  # the environment's value
    assert "(default: 80)" in text and "hunter2-secret" not in text
    assert "token-secret" not in text and "(default: all)" in text
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cpu-monitor {__version__}"


def test_catch_up_posts_stay_within_the_services_per_cpu_budget() -> None:
    """After an outage a 1,024-CPU machine sends 256 samples per POST, not the 1,000 that
    the service would refuse; a small machine still sends 1,000."""
    wide = [{"seq": i, "per_cpu": [1.0] * 1024} for i in range(1000)]
    narrow = [{"seq": i, "per_cpu": [1.0] * 8} for i in range(1500)]
    assert fitting(wide) == 256
    assert fitting(narrow) == MAX_BATCH == 1000
    assert fitting([]) == 0
    assert [len(batch) for batch in _batches(wide)] == [256, 256, 256, 232]
    assert [len(batch) for batch in _batches(narrow)] == [1000, 500]


def test_ctrl_c_while_the_ticker_waits_stops_it_and_never_hangs() -> None:
    """Ctrl-C can come while the main thread holds the stop event's own lock (inside
    ``stop.wait``); the handler must not wait for that lock on the thread it interrupted."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stop = threading.Event()
    try:
        recording._stop_on_signals(stop)
        handle = signal.getsignal(signal.SIGINT)
        assert callable(handle)

        def interrupted_inside_wait() -> None:
            with stop._cond:  # type: ignore[attr-defined]  # what stop.wait holds
                handle(signal.SIGINT, None)

        worker = threading.Thread(target=interrupted_inside_wait, daemon=True)
        worker.start()
        worker.join(5)
        assert not worker.is_alive(), "the handler waited for the lock it interrupted"
        assert stop.wait(5)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
