"""Pure statistics: arrays and estimates in, results out. The verdict's intervals and
decision, estimates, change points, run-to-run noise, a pair judged from its inputs, and
their calibration. numpy and scipy only: no SQLite, Locust, gevent, Flask or files."""
