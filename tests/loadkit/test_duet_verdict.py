"""The duet's verdict (both sides under load at once): its rules on runs built by hand, and
its calibration floors on a model of a shared machine (a small fixed-seed version of the
duet table of `python -m benchmarks.verdicts`)."""

from collections import Counter

import numpy as np
import pytest
from loadkit import cli
from loadkit.compare import compare_runs
from loadkit.core.records import Batch
from loadkit.stats import calibration, calibration_duet
from loadkit.stats.calibration import Model
from loadkit.stats.duet import Side, block_series, compare_duet, pairing
from loadkit.stats.verdict import IMPROVEMENT, NO_CHANGE, NOT_ENOUGH_DATA, REGRESSION

from tests.loadkit.conftest import Where

SEED = 17


def side(rng: np.random.Generator, n: int, machine: np.ndarray, factor: float = 1.0) -> Side:
    """``n`` timings over 100 s, each slowed by the machine at its instant."""
    ts = np.sort(rng.uniform(0, 100, n))
    slow = np.interp(ts, np.linspace(0, 100, machine.size), machine)
    return Side(ts, rng.lognormal(np.log(20 * factor), 0.3, n) * slow)


def test_a_machine_that_slows_both_sides_changes_nothing_and_a_slower_candidate_shows() -> None:
    rng = np.random.default_rng(SEED)
    # The machine doubles every time for the second half of the run: both sides alike.
    machine = np.where(np.linspace(0, 1, 200) < 0.5, 1.0, 2.0)
    same = compare_duet([("GET", "/a", side(rng, 4_000, machine), side(rng, 4_000, machine))])
    slower = compare_duet(
        [("GET", "/b", side(rng, 4_000, machine), side(rng, 4_000, machine, 1.3))]
    )
    assert same[0].verdict == NO_CHANGE
    assert slower[0].verdict == REGRESSION
    assert 0.2 < slower[0].change["p50"] < 0.4  # type: ignore[operator]
    # The block-by-block ratio held throughout, the machine's jump notwithstanding.
    held = block_series(pairing(side(rng, 4_000, machine), side(rng, 4_000, machine, 1.3)))
    assert len(held) >= 10 and all(0.1 < r < 0.5 for r in held)


def test_sides_that_never_ran_together_have_nothing_to_say() -> None:
    rng = np.random.default_rng(SEED)
    flat = np.ones(10)
    early = side(rng, 2_000, flat)
    late = Side(early.ts + 1_000, early.ms * 3)
    (found,) = compare_duet([("GET", "/a", early, late)])
    assert found.verdict == NOT_ENOUGH_DATA
    (empty,) = compare_duet([("GET", "/a", early, Side(np.empty(0), np.empty(0)))])
    assert empty.verdict == NOT_ENOUGH_DATA


def test_duet_floors_on_a_shared_machine() -> None:
    """A/A duets raise no alarm where sequential pairs of the same machine do, and a 25 %
    slowdown is caught in nearly every duet of 2,000 timings a side."""
    model, machine = Model(), calibration_duet.Machine()
    rng = np.random.default_rng([SEED, 2_000])
    duets: dict[str, Counter[str]] = {"A/A": Counter(), "median +25%": Counter()}
    sequential: Counter[str] = Counter()
    for scenario, verdicts in duets.items():
        for _ in range(120 if scenario == "A/A" else 40):
            baseline, candidate = calibration_duet.simulate_duet(
                2_000, rng, model, machine, scenario
            )
            verdicts[calibration_duet.judge_duet(baseline, candidate)] += 1
            if scenario == "A/A":
                current, before = calibration_duet.simulate_sequential(2_000, rng, model, machine)
                sequential[calibration.judge(current, before)] += 1
    alarms = duets["A/A"][REGRESSION] + duets["A/A"][IMPROVEMENT]
    assert alarms <= 1  # <= 1 % of 120 pairs
    assert duets["median +25%"][REGRESSION] >= 36  # >= 90 %
    assert duets["median +25%"][IMPROVEMENT] == 0
    assert sequential[REGRESSION] + sequential[IMPROVEMENT] >= 6  # >= 5 %: the machine's noise


def test_a_duets_candidate_side_is_compared_with_other_runs(
    where: Where, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "LABEL:candidate" names a duet's candidate side: it is compared with any run, as
    a sequential pair (nothing measured the noise between them), and nothing of it is kept
    as the duet's own estimates."""
    rng = np.random.default_rng(SEED)
    store = where.open()
    settings = {"users": 4, "host": "http://a", "locustfile_hash": "x", "pacing": 1.0}
    duet, _ = store.start_run("duet", {**settings, "candidate_host": "http://b"})
    plain, _ = store.start_run("plain", settings)
    ts = np.sort(rng.uniform(0, 100, 3_000))
    for run, sides, factors in ((duet, [0, 1], (1.0, 2.0)), (plain, [0], (2.0,))):
        endpoints = [("GET", "/x")] * len(sides)
        for index, factor in enumerate(factors):
            ms = rng.lognormal(np.log(20 * factor), 0.2, ts.size)
            batch = Batch("w", endpoints, [index] * ts.size, list(ts), list(ms), [True] * ts.size)
            batch.sides = sides
            store.add_timings(run, batch, spawned_at=0.0)
        store.finish_run(run, 101.0, None)
    # The duet's candidate ran at twice its baseline, as "plain" did.
    same = compare_runs(store, "duet:candidate", "plain")
    assert same.current.label == "duet:candidate"
    assert [e.verdict for e in same.endpoints] == [NO_CHANGE]
    assert store.kept_estimates(duet) is None  # the candidate side kept nothing as the duet's
    slower = compare_runs(store, "plain", "duet")
    assert [e.verdict for e in slower.endpoints] == [REGRESSION]
    kept = store.kept_estimates(duet)  # the duet's own: its baseline side's, about 20 ms
    assert kept is not None and kept[("GET", "/x")].quantiles["p50"].value < 25
    with pytest.raises(LookupError, match="not a duet"):
        compare_runs(store, "plain:candidate", "duet")
    with pytest.raises(LookupError, match="named run"):
        compare_runs(store, "duet:candidate", "previous")
    store.close()
    # loadwatch-compare: a duet alone is judged against its own baseline side, paired in time.
    assert cli.main([*where.args(), "duet"]) == 0
    assert "REGRESSION" in capsys.readouterr().out
    assert cli.main([*where.args(), "plain"]) == 2
    assert "not a duet" in capsys.readouterr().err
