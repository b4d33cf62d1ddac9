"""Vega-Lite specs of the UI's charts, built here and drawn by static/js/entente.js.

A spec travels in a `data-vega-spec` attribute (the CSP forbids inline scripts); data that
is large or reused (the world atlas, map values) is loaded by URL, so the browser caches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from entente.members.choices import ItuRegion
from entente.web.map_metrics import MapMetric

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
WORLD_ATLAS_URL = "/static/vendor/world-atlas/countries-110m.json"
NO_VALUE_FILL = "#cdd4dd"
MAP_COLOUR_RANGE = ["#f1f6fd", "#0b3d91"]
FONT = "system-ui, sans-serif"


def region_chart(per_region: Mapping[ItuRegion, int]) -> dict[str, Any]:
    """A horizontal bar per ITU region, all six shown even when empty."""
    values = [
        {"region": region.label, "organisations": per_region.get(region, 0)} for region in ItuRegion
    ]
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "width": "container",
        "height": {"step": 30},
        "data": {"values": values},
        "mark": {"type": "bar", "color": "#2f6fdf", "cornerRadiusEnd": 3},
        "encoding": {
            "y": {"field": "region", "type": "nominal", "sort": None, "title": None},
            "x": {
                "field": "organisations",
                "type": "quantitative",
                "title": "Organisations",
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "tooltip": [
                {"field": "region", "title": "ITU region"},
                {"field": "organisations", "title": "Organisations"},
            ],
        },
        "config": {"view": {"stroke": None}, "font": FONT},
    }


def map_spec(metric: MapMetric) -> dict[str, Any]:
    """Countries from the vendored atlas, joined by ISO numeric id to the metric's values.

    Two layers: every country in grey (so non-members and missing data still show), then the
    member states that have a value, coloured by it.
    """
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "width": "container",
        "height": 500,
        "autosize": {"type": "fit", "contains": "padding"},
        "projection": {"type": "equalEarth"},
        "data": {"url": WORLD_ATLAS_URL, "format": {"type": "topojson", "feature": "countries"}},
        "layer": [
            {
                "mark": {
                    "type": "geoshape",
                    "fill": NO_VALUE_FILL,
                    "stroke": "#ffffff",
                    "strokeWidth": 0.5,
                },
                "encoding": {"tooltip": [{"field": "properties.name", "title": "Country"}]},
            },
            {
                "transform": [_lookup(metric), {"filter": "isValid(datum.value)"}],
                "mark": {"type": "geoshape", "stroke": "#8fa3bf", "strokeWidth": 0.4},
                "encoding": {
                    "color": {
                        "field": "value",
                        "type": "quantitative",
                        "legend": _legend(metric),
                        "scale": {"range": MAP_COLOUR_RANGE, "domainMin": 0},
                    },
                    "tooltip": [
                        {"field": "name", "title": "Member state"},
                        {"field": "region", "title": "ITU region"},
                        {
                            "field": "value",
                            "title": metric.unit.capitalize(),
                            "format": metric.value_format,
                        },
                    ],
                },
            },
        ],
        "config": {"view": {"stroke": None}, "font": FONT},
    }


def _lookup(metric: MapMetric) -> dict[str, Any]:
    """Join each atlas feature (`id`: ISO numeric) to its member state's row of /map/data."""
    data_url = f"/map/data?metric={metric.name}"
    return {
        "lookup": "id",
        "from": {
            "data": {"url": data_url, "format": {"type": "json", "property": "values"}},
            "key": "numeric",
            "fields": ["name", "alpha2", "region", "value"],
        },
    }


def _legend(metric: MapMetric) -> dict[str, Any]:
    legend: dict[str, Any] = {
        "orient": "bottom-left",
        "format": metric.value_format,
        "title": metric.unit.capitalize(),
        "gradientLength": 220,
    }
    if metric.legend_step is not None:
        legend["tickMinStep"] = metric.legend_step
    return legend
