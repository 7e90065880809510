"""History: change points and outliers over stored runs, the run-to-run noise it measures,
`--baseline history`, and `loadwatch-compare --history` as a user calls it."""

import json
from typing import Any

import numpy as np
import pytest
from loadkit import cli
from loadkit.compare import compare_runs, estimates_of
from loadkit.core.records import Batch
from loadkit.stats import calibration, calibration_history, changepoints
from loadkit.stats.comparison import INCONCLUSIVE, NO_CHANGE
from loadkit.store.base import ResultsStore

from tests.loadkit.conftest import Where

SETTINGS = {"users": 5, "host": "http://h", "locustfile_hash": "abc", "pacing": 1.0}
STEP = {"r7", "r8", "r9", "r10"}  # /a is 25 % slower from run r7 on


def seed_run(store: ResultsStore, label: str, timings: dict[str, np.ndarray]) -> None:
    """A closed run of ``timings`` per GET endpoint, as the recorder stores one."""
    run, _ = store.start_run(label, SETTINGS)
    store.mark_spawned(run, 0.0)
    for name, times in timings.items():
        ts = list(np.linspace(1.0, 90.0, times.size))
        batch = Batch("w", [("GET", name)], [0] * times.size, ts, list(times), [True] * times.size)
        store.add_timings(run, batch, spawned_at=0.0)
    store.finish_run(run, 91.0, None)


def simulated(rng: np.random.Generator, factor: float = 1.0, n: int = 2_000) -> np.ndarray:
    return calibration.simulate(n, rng, calibration.Model()) * factor


@pytest.fixture
def store_path(where: Where) -> Where:
    """Ten runs: /a steps up by 25 % at r7, /b stays flat (in each kind of store)."""
    store = where.open()
    rng = np.random.default_rng(5)
    for i in range(1, 11):
        label = f"r{i}"
        seed_run(
            store,
            label,
            {"/a": simulated(rng, 1.25 if label in STEP else 1.0), "/b": simulated(rng, n=800)},
        )
    store.close()
    return where


def history_of(where: Where, *args: str) -> tuple[int, dict[str, Any], str]:
    out = where.path.with_name("history.json")
    code = cli.main([*where.args(), "--history", *args, "--json", str(out)])
    return code, json.loads(out.read_text()) if code == 0 else {}, ""


def test_the_history_contract_names_the_step_and_nothing_else(
    store_path: Where, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = history_of(store_path)
    assert code == 0
    endpoints = {(e["method"], e["name"]): e for e in found["endpoints"]}
    assert set(endpoints) == {("GET", "/a"), ("GET", "/b")}
    step = endpoints[("GET", "/a")]
    assert step["change_points"], step
    for point in step["change_points"]:
        assert set(point) == {"run", "quantile", "change", "low", "high"}
        assert point["run"] == "r7" and point["quantile"] in ("p50", "p95", "p99")
        assert 0.10 < point["change"] < 0.40 and 0 < point["low"] < point["change"] < point["high"]
    assert any(p["quantile"] == "p50" for p in step["change_points"])
    assert endpoints[("GET", "/b")]["change_points"] == []
    for entry in endpoints.values():
        assert entry["outliers"] == []
    text = capsys.readouterr().out
    assert "p50 change point at run 'r7': +" in text
    assert "run-to-run noise of this endpoint: ±" in text and "over 10 runs (p50)" in text


def test_since_and_last_narrow_the_series(store_path: Where) -> None:
    code, found, _ = history_of(store_path, "--since", "r4")
    assert code == 0 and found["runs"] == [f"r{i}" for i in range(4, 11)]
    code, found, _ = history_of(store_path, "--last", "4")
    assert code == 0 and found["runs"] == ["r7", "r8", "r9", "r10"]
    assert all(e["change_points"] == [] for e in found["endpoints"])  # all at the new level
    code, found, _ = history_of(store_path, "r8", "--last", "5")
    assert code == 0 and found["runs"] == ["r4", "r5", "r6", "r7", "r8"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--history", "--last", "1"], "2 or more"),
        (["--history", "--last", "x"], "not a number"),
        (["--history", "--since", "nope"], "'nope' is not among the comparable runs"),
        (["--history", "nope"], "no run labelled 'nope'"),
        (["--since", "r1", "r2", "r1"], "--since and --last go with --history"),
        (["--history", "--list"], "--history takes at most"),
        (["--history", "r2", "r1"], "--history takes at most"),
    ],
)
def test_bad_history_requests_are_one_line_and_exit_2(
    store_path: Where, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    try:
        code = cli.main([*store_path.args(), *args])
    except SystemExit as stop:  # argparse's usage errors
        code = int(stop.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1


def test_a_single_slow_run_is_an_outlier_and_a_new_slower_level_fails_the_gate(
    store_path: Where, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_path.open()
    rng = np.random.default_rng(9)
    seed_run(store, "r11", {"/a": simulated(rng, 1.25 * 1.6), "/b": simulated(rng, n=800)})
    seed_run(store, "r12", {"/a": simulated(rng, 1.25), "/b": simulated(rng, n=800)})
    seed_run(store, "r13", {"/a": simulated(rng, 1.25 * 1.4), "/b": simulated(rng, n=800)})
    store.close()
    _code, found, _ = history_of(store_path, "r12")
    step = next(e for e in found["endpoints"] if e["name"] == "/a")
    assert [o["run"] for o in step["outliers"]] and {o["run"] for o in step["outliers"]} == {"r11"}
    assert all(o["change"] > 0.3 for o in step["outliers"])
    assert {p["run"] for p in step["change_points"]} == {"r7"}  # the outlier is no level
    # r13 starts a slower level: the gate fails, and says where in one line.
    capsys.readouterr()
    assert cli.main([*store_path.args(), "--history", "r13", "--fail-on-regression"]) == 1
    assert "change point at run 'r13'" in capsys.readouterr().out
    assert cli.main([*store_path.args(), "--history", "r10", "--fail-on-regression"]) == 0
    assert cli.main([*store_path.args(), "r13", "history", "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "starts a slower level: GET /a p50 +" in out


def test_baseline_history_is_the_level_since_the_last_change_point(store_path: Where) -> None:
    store = store_path.open()
    comparison = compare_runs(store, "r10", "history")
    by_name = {e.name: e for e in comparison.endpoints}
    assert by_name["/a"].baseline_runs["p50"] == ["r7", "r8", "r9"]
    assert by_name["/b"].baseline_runs["p50"] == [f"r{i}" for i in range(1, 10)]
    # Nothing moved: no alarm (three runs at /a's new level rule out little).
    assert {e.verdict for e in comparison.endpoints} <= {NO_CHANGE, INCONCLUSIVE}
    # The noise was measured: it is in the interval, and no fixed threshold (the user's
    # floor, none here) stands on top of it.
    p50 = next(q for q in by_name["/b"].quantiles if q.quantile == "p50")
    assert by_name["/b"].noise["p50"]["runs"] == 9
    assert p50.threshold == 0.0
    assert comparison.to_dict()["baseline_runs"] == [f"r{i}" for i in range(1, 10)]
    assert "history: 9 runs 'r1' to 'r9'" in comparison.summary()
    # Against the previous run, one of its level's runs: judged against that level too.
    pair = compare_runs(store, "r10", "r9")
    assert "against 'r9' and its level: 9 runs 'r1' to 'r9'" in pair.summary()
    assert [e.baseline_runs for e in pair.endpoints] == [
        e.baseline_runs for e in comparison.endpoints
    ]
    assert [e.verdict for e in pair.endpoints] == [e.verdict for e in comparison.endpoints]
    # A run 15 % slower on /b than its level: a regression the fixed ±10 % could not see
    # in one pair, and a new slower level.
    rng = np.random.default_rng(21)
    seed_run(store, "r11", {"/a": simulated(rng, 1.25), "/b": simulated(rng, 1.15, n=800)})
    slower = compare_runs(store, "r11", "history")
    assert [e.name for e in slower.regressions] == ["/b"]
    assert any("GET /b p50" in line for line in slower.new_slower_levels())
    store.close()


def test_estimates_are_kept_and_read_back_the_same(store_path: Where) -> None:
    store = store_path.open()
    run = store.run("r3")
    assert run is not None
    first = estimates_of(store, run)
    again = estimates_of(store, run)
    assert first == again and first[("GET", "/a")].count == 2_000
    store.close()


@pytest.mark.parametrize("runs", [1, 2, 3, 4])
def test_a_short_series_has_nothing_to_say_and_says_it(runs: int) -> None:
    y, se = np.log(np.full(runs, 50.0)) + np.linspace(0, 0.5, runs), np.full(runs, 0.02)
    found = changepoints.segment(y, se)
    assert found.outliers == [] and all(c.index == runs - 1 for c in found.change_points)


def test_three_runs_that_fell_close_do_not_make_the_next_one_a_new_level() -> None:
    """The gate's false alarm on a real machine: three runs of the same code whose p95 fell
    within 0.3 % of each other, each measured to ±1.7 %, then a fourth 7.5 % slower, as
    runs of one site differ from one another. Their sample variance alone (2 degrees of
    freedom) made that a new level; no run strays from its level by less than its own
    interval. A fourth run 60 % slower still starts one."""
    se = np.full(4, 0.017)
    close = np.log([15.00, 15.04, 15.09])
    for change, new_level in ((0.075, False), (0.60, True)):
        y = np.r_[close, np.log(15.04 * (1 + change))]
        found = changepoints.segment(y, se)
        assert [c.index for c in found.change_points] == ([3] if new_level else []), change


def test_a_short_flat_history_rarely_alarms_and_sees_a_large_step() -> None:
    """The newest of four simulated runs (three before it) through the product's history and
    its pair verdict: unchanged in 100 histories, at most once a new slower level or a
    failed gate; 30 % slower, the gate fails nearly always; and of eleven runs, the newest
    30 % slower nearly always starts a slower level."""
    model = calibration.Model()
    unchanged = calibration_history.run_newest("unchanged", 3, 2_000, 100, 1, model)
    assert unchanged.slower <= 1, unchanged
    assert unchanged.failed <= 1, unchanged  # nor, with its pair verdict, fails the gate
    three_prior = calibration_history.run_newest("+30% newest", 3, 2_000, 30, 1, model)
    assert three_prior.of(three_prior.failed) >= 0.9, three_prior
    ten_prior = calibration_history.run_newest("+30% newest", 10, 2_000, 30, 1, model)
    assert ten_prior.of(ten_prior.slower) >= 0.9, ten_prior


def test_the_change_points_of_known_series() -> None:
    rng = np.random.default_rng(3)
    se = np.full(20, 0.02)

    def noisy(levels: np.ndarray) -> np.ndarray:
        return np.log(50) + levels + rng.normal(0, 0.03, levels.size)

    flat = changepoints.segment(noisy(np.zeros(20)), se)
    assert flat.change_points == []  # (its run 9 is a 3.3-sigma draw: an outlier, rightly)
    step = changepoints.segment(noisy(np.r_[np.zeros(10), np.full(10, np.log(1.15))]), se)
    assert [c.index for c in step.change_points] == [10]
    assert 0.08 < np.expm1(step.change_points[0].log_change) < 0.22
    spike = np.zeros(20)
    spike[10] = np.log(1.5)
    single = changepoints.segment(noisy(spike), se)
    assert single.change_points == [] and [i for i, _ in single.outliers] == [10]
    newest = np.zeros(20)
    newest[-1] = np.log(1.3)
    last = changepoints.segment(noisy(newest), se)
    assert [c.index for c in last.change_points] == [19] and last.outliers == []


def test_the_split_statistics_match_their_definition() -> None:
    """E-divisive's statistic and the weighted t from their sums, against a direct
    computation split by split."""
    rng = np.random.default_rng(8)
    y = rng.normal(0, 1, (3, 9))
    var = rng.uniform(0.01, 0.2, (3, 9))
    splits, energy, t = changepoints._split_statistics(y, var)
    for row in range(3):
        for col, k in enumerate(splits):
            left, right = y[row, :k], y[row, k:]
            d = np.abs(left[:, None] - right[None, :]).mean()
            a = np.abs(left[:, None] - left[None, :]).sum() / (k * (k - 1))
            r = np.abs(right[:, None] - right[None, :]).sum() / (right.size * (right.size - 1))
            expected = k * right.size / y.shape[1] * (2 * d - a - r)
            assert energy[row, col] == pytest.approx(expected)
            tau2 = changepoints.between_variance(
                y[row], var[row], [np.arange(k), np.arange(k, y.shape[1])]
            )
            w = 1 / (var[row] + tau2)
            diff = w[k:] @ right / w[k:].sum() - w[:k] @ left / w[:k].sum()
            se = np.sqrt(1 / w[:k].sum() + 1 / w[k:].sum())
            assert t[row, col] == pytest.approx(diff / se)
