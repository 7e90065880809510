"""The Locust side: state on the Environment, the recorder and its listeners, pacing, the
gate at each test's stop and at quit, the exporter, thresholds, secret options and test
data samplers. Imports every layer below it, never ``web``."""
