"""A comparison from end to end, the one path the gate and `loadwatch-compare` take: read
its inputs from a store in one step (``loadkit.store.gather``), compute with the pure
statistics (``loadkit.stats``), write the result to the store in one step."""

from loadkit.compare.pipeline import compare_duet_run, compare_runs, estimates_of, history_of

__all__ = ["compare_duet_run", "compare_runs", "estimates_of", "history_of"]
