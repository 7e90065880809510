"""What the panels read: the datasources, the job selectors, PromQL shapes, and queries of
the service's API through the Infinity datasource."""

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

PROMETHEUS_UID = "loadwatch-prometheus"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${datasource}")  # the variable
API = DataSourceRef(type_val="yesoreyeram-infinity-datasource", uid="loadwatch-api")
SERVICE = 'job=~"$service_job"'
LOCUST = 'job=~"$locust_job"'
RUN = f'{SERVICE}, run_id=~"$run_id", host=~"$host"'

# A panel's PromQL targets: (legend, expression).
Targets = Sequence[tuple[str, str]]


def prom(expr: str, legend: str, ref_id: str, table: bool = False) -> prometheus.Dataquery:
    """A Prometheus target through the datasource variable; ``table``: one instant value
    per series, as a table panel shows it."""
    query = (prometheus.Dataquery().ref_id(ref_id).datasource(PROMETHEUS).expr(expr)).legend_format(
        legend
    )
    return query.instant().format(PromQueryFormat.TABLE) if table else query


def quantiles(expr: str, legend: str = "p{p} {{{{handler}}}}") -> list[tuple[str, str]]:
    """p50, p95 and p99 of a histogram expression written with ``{q}``."""
    return [(legend.format(p=int(q * 100)), expr.replace("{q}", str(q))) for q in (0.5, 0.95, 0.99)]


def mean_of_every_sample(figure: str, legend: str) -> tuple[str, str]:
    """The exact mean of a figure's samples over the last minute, from the summary the
    service exports per running run (however fast the samples come)."""
    return (
        legend,
        f"rate(loadwatch_{figure}_samples_sum{{{RUN}}}[1m]) "
        f"/ rate(loadwatch_{figure}_samples_count{{{RUN}}}[1m])",
    )


@dataclass(frozen=True)
class Column:
    """One column an Infinity query reads: its name in the answer, its label, its type."""

    selector: str
    text: str
    type: str = "number"  # or "timestamp", "string"


class InfinityQuery(cogvariants.Dataquery):
    """A query of the service's API through the Infinity datasource plugin, which the
    SDK has no types for; the datasource holds the URL and the token."""

    def __init__(
        self, ref_id: str, url: str, columns: list[Column], kind: str = "csv", root: str = ""
    ) -> None:
        self.ref_id = ref_id
        self.url = url
        self.columns = columns
        self.kind = kind
        self.root = root

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": API,
            "type": self.kind,
            "source": "url",
            "parser": "backend",
            "format": "table",
            "url": self.url,
            "url_options": {"method": "GET", "data": ""},
            "root_selector": self.root,
            "columns": [
                {"selector": c.selector, "text": c.text, "type": c.type} for c in self.columns
            ],
            "filters": [],
        }


class Infinity(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builds an InfinityQuery, as the SDK's builders build their queries."""

    def __init__(self, url: str, columns: list[Column], kind: str = "csv", root: str = "") -> None:
        self._internal = InfinityQuery("A", url, columns, kind, root)

    def ref_id(self, ref_id: str) -> "Infinity":
        self._internal.ref_id = ref_id
        return self

    def build(self) -> InfinityQuery:
        return self._internal
