"""What every dashboard shares: the datasource variable, the annotations, the links between
the dashboards, the shared crosshair, and the rows laid out left to right."""

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard, stat
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models.dashboard import (
    AnnotationQuery,
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    VariableHide,
    VariableModel,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from grafana.dashboards.panels import AnyPanel, number
from grafana.dashboards.queries import API, PROMETHEUS, PROMETHEUS_UID, SERVICE, Infinity

Row = tuple[str, Sequence[AnyPanel]]


def prometheus_variable(name: str, label: str, query: str) -> dashboard.QueryVariable:
    """A multi-value variable offered by ``label_values(...)``, All by default."""
    return (
        dashboard.QueryVariable(name)
        .id(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query({"query": query, "refId": "var"})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .multi(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def api_variable(name: str, label: str, query: Infinity) -> dashboard.QueryVariable:
    """A single-value variable listed by the service's API (``__text`` and ``__value``)."""
    infinity = query.ref_id("variable").build().to_json()
    return (
        dashboard.QueryVariable(name)
        .id(name)
        .label(label)
        .datasource(API)
        .query({"queryType": "infinity", "infinityQuery": infinity, "query": ""})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(False)
        .multi(False)
    )


SERVICE_JOB = prometheus_variable(
    "service_job", "Service job", "label_values(loadwatch_test_runs_active, job)"
)


class _Annotation(AnnotationQuery):
    """An annotation as Grafana stores it, with the fields the SDK's model lacks: the
    built-in marker, and a Prometheus annotation's title and step."""

    def __init__(
        self,
        name: str,
        datasource: DataSourceRef,
        icon_color: str,
        *,
        built_in: bool = False,
        title: str = "",
        expr: str | None = None,
        hide: bool = False,
        type_val: str | None = None,
        infinity: dict[str, object] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            datasource=datasource,
            icon_color=icon_color,
            expr=expr,
            hide=hide,
            type_val=type_val,
        )
        self.built_in = built_in
        self.title = title
        self.infinity = infinity

    def to_json(self) -> dict[str, object]:
        payload = super().to_json()
        if self.built_in:
            return {"builtIn": 1, **payload}
        if self.infinity is not None:  # an API query: its rows' time and text
            return {**payload, "target": self.infinity}
        return {**payload, "step": "15s", "titleFormat": self.title, "useValueForTime": False}


class Annotation(cogbuilder.Builder[AnnotationQuery]):
    def __init__(self, annotation: _Annotation) -> None:
        self._internal = annotation

    def build(self) -> AnnotationQuery:
        return self._internal


def _prometheus_annotation(name: str, expr: str, title: str, color: str) -> Annotation:
    return Annotation(_Annotation(name, PROMETHEUS, color, title=title, expr=expr))


def api_annotation(name: str, query: Infinity, color: str) -> Annotation:
    """Marks read from the service's API: each row's ``time``, with its ``text``."""
    infinity = query.ref_id("annotation").build().to_json()
    return Annotation(_Annotation(name, API, color, infinity=infinity))


ANNOTATIONS: list[cogbuilder.Builder[AnnotationQuery]] = [
    Annotation(
        _Annotation(
            "Annotations & Alerts",
            DataSourceRef(type_val="grafana", uid="-- Grafana --"),
            "rgba(0, 211, 255, 1)",
            built_in=True,
            hide=True,
            type_val="dashboard",
        )
    ),
    _prometheus_annotation(
        "Load test running",
        "max(locust_running) > 0",
        "Load test running",
        "rgba(31, 120, 193, 0.4)",
    ),
    _prometheus_annotation(
        "Pacing changes",
        "max(changes(locust_pacing_seconds[30s])) > 0",
        "Pacing changed",
        "orange",
    ),
    _prometheus_annotation(
        "CPU above threshold",
        f"max by (run_id, host) (loadwatch_cpu_usage_percent{{{SERVICE}}} "
        f"> loadwatch_test_run_threshold_percent{{{SERVICE}}})",
        "{{host}} run {{run_id}} above its CPU threshold",
        "red",
    ),
]


def _datasource_variable() -> cogbuilder.Builder[VariableModel]:
    return (
        dashboard.DatasourceVariable("datasource")
        .id("datasource")
        .label("Prometheus")
        .type("prometheus")
        .current(VariableOption(selected=True, text="Prometheus", value=PROMETHEUS_UID))
        .hide(VariableHide.DONT_HIDE)
    )


def dashboard_of(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[cogbuilder.Builder[VariableModel]],
    rows: Sequence[Row],
    annotations: Sequence[cogbuilder.Builder[AnnotationQuery]] = (),
) -> dashboard.Dashboard:
    """A loadwatch dashboard: its rows of panels, after what every dashboard shares
    (``annotations``: its own, after the shared ones)."""
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["loadwatch"])
        .timezone("browser")
        .readonly()
        .tooltip(DashboardCursorSync.CROSSHAIR)  # the crosshair follows the mouse everywhere
        .refresh("5s")
        .time("now-15m", "now")
        .version(1)
        .link(
            dashboard.DashboardLink("loadwatch")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["loadwatch"])
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
            .target_blank(False)
        )
        .variables([_datasource_variable(), *variables])
        .annotations([*ANNOTATIONS, *annotations])
    )
    panel_id = 0
    for title_of_row, panels in rows:
        panel_id += 1
        board.with_row(dashboard.Row(title_of_row).id(panel_id))
        for panel in panels:
            panel_id += 1
            board.with_panel(panel.id(panel_id))
    return board


def active_runs(width: int) -> stat.Panel:
    """Shown on the Service and the CPU runs dashboards alike."""
    return number(
        "Active runs",
        "Test runs in status running.",
        "short",
        [("active", f"max(loadwatch_test_runs_active{{{SERVICE}}})")],
        width=width,
    )
