"""Calibration of the duet against sequential pairs, on one model of a shared machine.

Each service's own response times are ``loadkit.stats.calibration``'s simulated runs (their
own drift, run-to-run level, heavy tails, spikes). The machine adds what no interval inside
one run can see (``Machine``): a slow-down common to whatever runs on it, drifting over a
run (an AR(1) path in time with ``waves`` correlation times per run) and jumping between
runs (the level a run meets). A **sequential pair** is two runs, each meeting the machine
at its own time; a **duet** is one run in which both sides meet the same path at the same
moments, each side's requests at their own instants. Both come from one model, one truth.

Judged three ways: the duet (``loadkit.stats.duet``), the sequential pair by the pair
verdict alone (``loadkit.stats.comparison``, no history), and an oracle for each (the best
test on the same data, knowing the generator, at 1 % of false alarms: see
``calibration_history.Oracle``). ``python -m benchmarks.verdicts`` prints the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from loadkit.stats import calibration, duet
from loadkit.stats.calibration import SCENARIOS, Cell, Model, simulate
from loadkit.stats.calibration_history import Oracle
from loadkit.stats.duet import Side

GRID = 2_000  # points of the machine's path over one run
ENDPOINT = ("GET", "/simulated")


@dataclass(frozen=True)
class Machine:
    drift_sd: float = 0.15  # stationary sd of the machine's log slow-down within a run
    waves: float = 8.0  # its correlation times per run
    jump_sd: float = 0.10  # sd of the log level a run meets (between runs)


def machine_path(rng: np.random.Generator, machine: Machine) -> np.ndarray:
    """The machine's log slow-down over one run, on GRID points of its time [0, 1)."""
    phi = math.exp(-machine.waves / GRID)
    shocks = rng.normal(0.0, machine.drift_sd * math.sqrt(1 - phi * phi), GRID)
    start = rng.normal(0.0, machine.drift_sd)
    path: np.ndarray = lfilter([1.0], [1.0, -phi], shocks, zi=[phi * start])[0]
    return path + rng.normal(0.0, machine.jump_sd)


def _side(n: int, rng: np.random.Generator, model: Model, path: np.ndarray, scenario: str) -> Side:
    ts = np.sort(rng.random(n))
    own = simulate(n, rng, model, scenario)
    return Side(ts, own * np.exp(path[(ts * GRID).astype(int)]))


def simulate_duet(
    n: int, rng: np.random.Generator, model: Model, machine: Machine, scenario: str = "A/A"
) -> tuple[Side, Side]:
    """(baseline, candidate) of one duet: ``n`` timings a side, one machine path."""
    path = machine_path(rng, machine)
    return _side(n, rng, model, path, "A/A"), _side(n, rng, model, path, scenario)


def simulate_sequential(
    n: int, rng: np.random.Generator, model: Model, machine: Machine, scenario: str = "A/A"
) -> tuple[np.ndarray, np.ndarray]:
    """(current, baseline) of one sequential pair: two runs, two paths of the machine."""
    baseline = _side(n, rng, model, machine_path(rng, machine), "A/A").ms
    current = _side(n, rng, model, machine_path(rng, machine), scenario).ms
    return current, baseline


def judge_duet(baseline: Side, candidate: Side) -> str:
    """The endpoint verdict of one duet, from the product's own function."""
    return duet.compare_duet([(*ENDPOINT, baseline, candidate)])[0].verdict


def duet_oracle(n: int, model: Model, machine: Machine, pairs: int, seed: int) -> Oracle:
    rng = np.random.default_rng([seed, n, 98])
    draws = (simulate_duet(n, rng, model, machine) for _ in range(pairs))
    return Oracle.of_null([(c.ms, b.ms) for b, c in draws])


def sequential_oracle(n: int, model: Model, machine: Machine, pairs: int, seed: int) -> Oracle:
    rng = np.random.default_rng([seed, n, 97])
    return Oracle.of_null([simulate_sequential(n, rng, model, machine) for _ in range(pairs)])


@dataclass
class DuetCell:
    """One scenario at one n: the duet and the sequential pair, each by loadkit and by
    its oracle."""

    scenario: str
    n: int
    duet: Cell
    duet_oracle: Cell
    sequential: Cell
    sequential_oracle: Cell


def run_duet_cell(
    scenario: str,
    n: int,
    pairs: int,
    seed: int,
    oracles: tuple[Oracle, Oracle],
    model: Model | None = None,
    machine: Machine | None = None,
) -> DuetCell:
    model, machine = model or Model(), machine or Machine()
    rng = np.random.default_rng([seed, n, list(SCENARIOS).index(scenario), 5])
    cell = DuetCell(scenario, n, *(Cell(scenario, n) for _ in range(4)))
    by_duet, by_sequence = oracles
    for _ in range(pairs):
        baseline, candidate = simulate_duet(n, rng, model, machine, scenario)
        current, before = simulate_sequential(n, rng, model, machine, scenario)
        said = [
            (cell.duet, judge_duet(baseline, candidate)),
            (cell.duet_oracle, by_duet.judge(candidate.ms, baseline.ms)),
            (cell.sequential, calibration.judge(current, before)),
            (cell.sequential_oracle, by_sequence.judge(current, before)),
        ]
        for judged, outcome in said:
            judged.verdicts[outcome] += 1
            judged.pairs += 1
    return cell
