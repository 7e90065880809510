"""cpu-monitor: sample this machine's CPU and record it as a loadwatch test run."""

__version__ = "0.1.0"
