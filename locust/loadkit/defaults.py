"""Defaults that more than one part of loadkit needs: the Locust options, the modules that
act on them, and `loadwatch-compare`. A module of its own, so that declaring the options
imports nothing heavy (the comparison's numpy and scipy load only when Locust quits)."""

PACING_SECONDS = 5.0
EXPORTER_PORT = 9646
RESULTS_DB = "results/loadwatch.sqlite"
ALPHA = 0.01  # KS significance level
MIN_EFFECT = 0.1  # smallest KS statistic D that counts as a change
