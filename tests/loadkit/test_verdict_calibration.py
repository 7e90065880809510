"""The baseline verdict's statistics: calibration floors on simulated runs of known truth
(a small fixed-seed version of `python -m benchmarks.verdicts`), and its rules."""

import argparse
import itertools

import numpy as np
import pytest
from loadkit.core import options
from loadkit.core.defaults import MIN_CHANGE
from loadkit.stats import calibration, calibration_history
from loadkit.stats.calibration import Model, run_cell, simulate
from loadkit.stats.comparison import (
    IMPROVEMENT,
    INCONCLUSIVE,
    NO_CHANGE,
    NOT_ENOUGH_DATA,
    REGRESSION,
    compare_endpoints,
    compare_samples,
)

SEED = 11


@pytest.fixture(scope="module")
def cells() -> dict[tuple[str, int], calibration.Cell]:
    """Every scenario at every n, few pairs each: about 15 s."""
    found = {}
    for scenario in calibration.SCENARIOS:
        for n in (20, 200, 2_000, 20_000):
            pairs = {20: 40, 200: 150, 2_000: 150, 20_000: 60}[n]
            if scenario == "A/A":
                pairs *= 2
            found[(scenario, n)] = run_cell(scenario, n, pairs, SEED)
    return found


def test_a_a_false_alarms_stay_under_one_percent_at_every_n(cells: dict) -> None:
    for n in (20, 200, 2_000, 20_000):
        cell = cells[("A/A", n)]
        assert cell.false_alarms <= 0.01, (n, cell.verdicts)


def test_power_floors(cells: dict) -> None:
    assert cells[("median +25%", 2_000)].power >= 0.95
    assert cells[("median +25%", 20_000)].power >= 0.95
    assert cells[("tail-only (p99 +50%)", 20_000)].power >= 0.90


def test_detection_never_drops_as_n_grows(cells: dict) -> None:
    for scenario in calibration.SCENARIOS:
        if scenario == "A/A":
            continue
        powers = [cells[(scenario, n)].power for n in (20, 200, 2_000, 20_000)]
        # A few pairs' worth of sampling noise between neighbouring cells is allowed.
        assert all(b >= a - 0.04 for a, b in itertools.pairwise(powers)), (
            scenario,
            powers,
        )


def test_no_wrong_direction_and_no_regression_at_n_20(cells: dict) -> None:
    for (scenario, n), cell in cells.items():
        assert cell.wrong_direction == 0, (scenario, n, cell.verdicts)
        if n == 20:
            assert cell.verdicts[REGRESSION] == 0
            assert set(cell.verdicts) == {NOT_ENOUGH_DATA}


def test_the_tail_scenario_moves_the_tail_only() -> None:
    truth = calibration.true_changes("tail-only (p99 +50%)", n=200_000)
    assert abs(truth["p50"]) < 0.01
    assert 0.08 < truth["p95"] < 0.18
    assert 0.40 < truth["p99"] < 0.60


def test_a_regression_names_the_quantile_and_its_interval_lies_beyond_the_threshold() -> None:
    rng = np.random.default_rng(3)
    model = Model()
    current = simulate(20_000, rng, model, "tail-only (p99 +50%)")
    baseline = simulate(20_000, rng, model)
    result = compare_samples("GET", "/x", current, baseline)
    assert result.verdict == REGRESSION
    p99 = next(q for q in result.quantiles if q.quantile == "p99")
    assert p99.outcome == REGRESSION
    assert p99.low is not None and p99.low > MIN_CHANGE["p99"]
    assert p99.level is not None and p99.level > 0.95
    assert result.reason.startswith("p99 +") and "interval" in result.reason
    p50 = next(q for q in result.quantiles if q.quantile == "p50")
    assert p50.outcome == NO_CHANGE


def test_every_outcome_agrees_with_its_interval() -> None:
    """Holm's rejection and 'the interval lies wholly beyond the threshold' are one rule."""
    rng = np.random.default_rng(5)
    model = Model()
    timings = []
    for i, scenario in enumerate(calibration.SCENARIOS):
        for n in (800, 5_000, 30_000):
            current = simulate(n, rng, model, scenario)
            timings.append(("GET", f"/{i}/{n}", current, simulate(n, rng, model)))
    seen = set()
    for endpoint in compare_endpoints(timings):
        for q in endpoint.quantiles:
            seen.add(q.outcome)
            if q.change is None:
                assert q.outcome == NOT_ENOUGH_DATA
                continue
            assert q.low is not None and q.high is not None
            assert q.low <= q.change <= q.high
            beyond_up = q.low > q.threshold
            beyond_down = q.high < -q.threshold
            assert (q.outcome == REGRESSION) == beyond_up, q
            assert (q.outcome == IMPROVEMENT) == beyond_down, q
    assert {REGRESSION, IMPROVEMENT, NO_CHANGE} <= seen


def test_autocorrelation_widens_the_interval() -> None:
    """The same marginal distribution, once independent and once in slow waves: the
    waves leave fewer effective samples, so the interval must be wider."""
    rng = np.random.default_rng(9)
    n = 20_000
    iid = np.exp(rng.normal(np.log(50), 0.3, n))
    # The same values, rearranged so that each time's rank follows a slow wave.
    score = np.sin(np.arange(n) / 300) + rng.normal(0, 0.6, n)
    waves = np.sort(iid)[np.argsort(np.argsort(score))]
    a = compare_samples("GET", "/x", iid, np.exp(rng.normal(np.log(50), 0.3, n)))
    b = compare_samples("GET", "/x", waves, np.exp(rng.normal(np.log(50), 0.3, n)))
    width = {
        name: next(q.high - q.low for q in r.quantiles if q.quantile == "p50")  # type: ignore[operator]
        for name, r in (("iid", a), ("waves", b))
    }
    assert width["waves"] > 2 * width["iid"], width


def test_a_huge_sample_with_a_tiny_shift_is_no_change_though_ks_flags_it() -> None:
    rng = np.random.default_rng(6)
    base = rng.lognormal(np.log(20), 0.4, 400_000)
    shifted = rng.lognormal(np.log(20 * 1.02), 0.4, 400_000)
    result = compare_samples("GET", "/x", shifted, base)
    assert result.p_value is not None and result.p_value < 1e-6  # KS alone would flag it
    assert result.verdict == NO_CHANGE
    strict = compare_samples("GET", "/x", shifted, base, min_change={"p50": 0, "p95": 0, "p99": 0})
    assert strict.verdict == REGRESSION


def test_too_few_timings_are_not_enough_data_never_a_regression() -> None:
    tiny = np.full(50, 10.0)
    slow = np.full(60, 1000.0)
    result = compare_samples("GET", "/x", slow, tiny)
    assert result.verdict == NOT_ENOUGH_DATA
    assert all(q.outcome == NOT_ENOUGH_DATA for q in result.quantiles)
    # Enough for the median, not for p99: the tail is not assessed.
    rng = np.random.default_rng(1)
    partial = compare_samples("GET", "/x", rng.lognormal(3, 0.3, 800), rng.lognormal(3, 0.3, 800))
    outcomes = {q.quantile: q.outcome for q in partial.quantiles}
    assert outcomes["p99"] == NOT_ENOUGH_DATA and outcomes["p50"] != NOT_ENOUGH_DATA


def test_holm_holds_the_family_wise_error_across_many_endpoints() -> None:
    """30 endpoints of one A/A comparison with the thresholds at 0: only Holm stands
    between sampling noise and a false verdict, and it keeps them rare."""
    rng = np.random.default_rng(12)
    zero = {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    falsely = 0
    for _ in range(20):
        timings = [
            ("GET", f"/{i}", rng.lognormal(3, 0.3, 3_000), rng.lognormal(3, 0.3, 3_000))
            for i in range(30)
        ]
        result = compare_endpoints(timings, alpha=0.05, min_change=zero)
        falsely += any(e.verdict in (REGRESSION, IMPROVEMENT) for e in result)
    assert falsely <= 3  # family-wise 5 % of 20 comparisons, with room for chance


def test_a_wide_interval_is_inconclusive() -> None:
    """Few, widely spread timings: nothing moved, but the data cannot say so either."""
    rng = np.random.default_rng(4)
    result = compare_samples("GET", "/x", rng.lognormal(3, 1.5, 600), rng.lognormal(3, 1.5, 600))
    assert result.verdict == INCONCLUSIVE
    p50 = result.quantiles[0]
    assert p50.outcome == INCONCLUSIVE and p50.low is not None and p50.high is not None
    assert p50.low < -p50.threshold or p50.high > p50.threshold


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.05", {"p50": 0.05, "p95": 0.05, "p99": 0.05}),
        ("p99=0.3", {**MIN_CHANGE, "p99": 0.3}),
        ("p50=0.1,p95=0.2", {**MIN_CHANGE, "p50": 0.1, "p95": 0.2}),
    ],
)
def test_min_change_parses(text: str, expected: dict[str, float]) -> None:
    assert options.min_change(text) == expected


@pytest.mark.parametrize("text", ["abc", "p90=0.1", "1.5", "-0.1", "p50=x", "nan"])
def test_min_change_refuses_nonsense(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        options.min_change(text)


@pytest.fixture(scope="module")
def series_cells() -> dict[str, calibration_history.SeriesCell]:
    """Each series truth over 60 series of 20 runs, the flat one over 200 (its rate is the
    smallest, and flat series cost least): about 30 s."""
    return {
        name: calibration_history.run_series(
            name, 2_000, 200 if name == "flat" else 60, SEED, Model()
        )
        for name in calibration_history.SERIES
    }


def test_history_floors_over_series_of_twenty_runs(series_cells: dict) -> None:
    flat, step = series_cells["flat"], series_cells["+15% step"]
    drift, single = series_cells["+1.5% per run drift"], series_cells["single +50% run"]
    assert flat.share(flat.any_change) <= 0.05
    assert step.share(step.at_step) >= 0.90
    assert drift.share(drift.any_change) >= 0.80
    assert single.share(single.at_step) <= 0.10
    assert single.share(single.outlier_at_step) >= 0.90  # named for what it is


@pytest.fixture(scope="module")
def history_cells() -> dict[tuple[str, int], calibration_history.PairCell]:
    """The pair verdict alone, with five earlier runs, and the oracle: about 30 s."""
    found = {}
    for n in (200, 2_000):
        oracle = calibration_history.Oracle.fit(n, Model(), 2_000, SEED)
        for scenario in calibration.SCENARIOS:
            pairs = 300 if scenario == "A/A" else 150
            found[(scenario, n)] = calibration_history.run_pair_cell(
                scenario, n, pairs, SEED, Model(), oracle
            )
    return found


def test_history_keeps_false_alarms_rare(history_cells: dict) -> None:
    """At most 1 % of unchanged pairs alarm, either way, and no verdict goes against the
    change (docs/benchmarks.md has the benchmark's figures over 900 pairs)."""
    for (scenario, n), cell in history_cells.items():
        assert cell.with_history.wrong_direction == 0, (scenario, n, cell.with_history.verdicts)
        if scenario == "A/A":
            assert cell.with_history.score <= 0.01, (n, cell.with_history.verdicts)


def test_history_comes_near_the_oracle(history_cells: dict) -> None:
    for (scenario, n), cell in history_cells.items():
        if scenario != "A/A" and cell.oracle >= 0.5:
            assert cell.with_history.score >= 0.8 * cell.oracle, (scenario, n)
    for scenario in ("median +25%", "20% faster"):  # ±20-25 % at 200 timings
        cell = history_cells[(scenario, 200)]
        assert cell.with_history.score >= 0.5 * cell.oracle, scenario


def test_a_few_noisy_runs_never_blind_the_pair_verdict() -> None:
    """Three runs at the level whose p50 strays by ±10 % give Student's t 2 degrees of
    freedom: at a fifth of Holm's alpha its interval is too wide to see a 2.5-fold
    slowdown, which the pair's own intervals see at once. The verdict takes the test that
    reaches the smaller change, and the noisy level never makes it blind."""
    rng = np.random.default_rng(SEED)
    earlier = [simulate(2_000, rng, Model()) * factor for factor in (0.9, 1.1)]
    baseline = simulate(2_000, rng, Model())
    slower = simulate(2_000, rng, Model()) * 2.5
    assert calibration_history.judge_with_history(slower, baseline, earlier) == REGRESSION
    same = simulate(2_000, rng, Model())
    assert calibration_history.judge_with_history(same, baseline, earlier) != REGRESSION
