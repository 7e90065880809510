"""Reading Prometheus text format in tests."""

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} for every sample in a /metrics body."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, metric: str, /, **labels: str) -> float:
    """A sample's value (0 when absent); positional-only, so a label may be called name."""
    return samples(text).get((metric, tuple(sorted(labels.items()))), 0.0)


def series(text: str, metric: str) -> list[dict[str, str]]:
    return [dict(labels) for (sample, labels) in samples(text) if sample == metric]
