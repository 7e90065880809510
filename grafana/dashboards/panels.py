"""The three kinds of panel the dashboards use, with the settings they all share: a unit,
a description, thresholds green unless an alert rule says where red starts, and a legend
that reads as a table."""

from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
)

from grafana.dashboards.alert_rules import fires_at
from grafana.dashboards.queries import API, PROMETHEUS, Infinity, Targets, prom

HEIGHT = 8
MAY_BE_EMPTY = " It may be empty: that is normal when there is nothing to show."

AnyPanel = timeseries.Panel | stat.Panel | table.Panel


def _thresholds(alert: str | None) -> dashboard.ThresholdsConfig:
    """Green, and red from where ``alert`` fires. Without one a stat stays green (Grafana's
    default would turn it red at 80, whatever the unit)."""
    steps = [Threshold(color="green", value=None)]
    if alert is not None:
        steps.append(Threshold(color="red", value=fires_at(alert)))
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def _common(
    panel: AnyPanel,
    title: str,
    description: str,
    unit: str,
    width: int,
    alert: str | None,
    may_be_empty: bool,
) -> None:
    panel.title(title).description(description + (MAY_BE_EMPTY if may_be_empty else ""))
    panel.unit(unit).span(width).height(HEIGHT).thresholds(_thresholds(alert))


def _targets(
    panel: AnyPanel, targets: Targets, api: Infinity | None, table_format: bool = False
) -> None:
    queries: list[cogbuilder.Builder[cogvariants.Dataquery]]
    if api is not None:
        panel.datasource(API)
        queries = [api]
    else:
        panel.datasource(PROMETHEUS)
        queries = [
            prom(expr, legend, chr(ord("A") + i), table_format)
            for i, (legend, expr) in enumerate(targets)
        ]
    panel.targets(queries)


def graph(
    title: str,
    description: str,
    unit: str,
    targets: Targets = (),
    *,
    width: int = 12,
    alert: str | None = None,
    may_be_empty: bool = False,
    api: Infinity | None = None,
    dashed_query: str | None = None,
) -> timeseries.Panel:
    """A time series with a table legend (mean, max, last) and a shared tooltip; ``alert``
    draws its threshold as a dashed line, ``dashed_query`` draws that query's series as a
    red dashed line (a threshold that is itself a series)."""
    panel = timeseries.Panel()
    _common(panel, title, description, unit, width, alert, may_be_empty)
    _targets(panel, targets, api)
    panel.legend(
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["mean", "max", "lastNotNull"])
    )
    panel.tooltip(
        common_builders.VizTooltipOptions()
        .mode(common.TooltipDisplayMode.MULTI)
        .sort(common.SortOrder.DESCENDING)
    )
    if alert is not None:
        panel.thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.DASHED)
        )
    if dashed_query is not None:
        panel.override_by_query(
            dashed_query,
            [
                DynamicConfigValue(
                    id_val="custom.lineStyle", value={"dash": [10, 10], "fill": "dash"}
                ),
                DynamicConfigValue(id_val="color", value={"fixedColor": "red", "mode": "fixed"}),
            ],
        )
    return panel


def number(
    title: str,
    description: str,
    unit: str,
    targets: Targets,
    *,
    width: int = 6,
    alert: str | None = None,
    may_be_empty: bool = False,
) -> stat.Panel:
    """A stat: the latest value of each series."""
    panel = stat.Panel()
    _common(panel, title, description, unit, width, alert, may_be_empty)
    _targets(panel, targets, None)
    return panel.reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))


def rows_of(
    title: str,
    description: str,
    unit: str,
    targets: Targets = (),
    *,
    width: int = 12,
    may_be_empty: bool = False,
    api: Infinity | None = None,
    transformations: Sequence[tuple[str, dict[str, Any]]] = (),
) -> table.Panel:
    """A table: one row per series (instant values), or the rows of an API answer."""
    panel = table.Panel().show_header(True)
    _common(panel, title, description, unit, width, None, may_be_empty)
    _targets(panel, targets, api, table_format=True)
    for transformation, options in transformations:
        panel.with_transformation(DataTransformerConfig(id_val=transformation, options=options))
    return panel
