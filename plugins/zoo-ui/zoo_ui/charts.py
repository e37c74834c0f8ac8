"""Vega-Lite specs for the pages' charts, and the script that draws them in the browser.

The browser has no internet, so no CDN: ``vl-convert-python`` (from the Vega project) ships
vega, vega-lite and vega-embed inside its wheel and hands them out as one script
(``javascript_bundle``), which the app serves itself at ``/zoo/-/vega.js``. Building it takes
a few seconds, so it is cached on disk per vl-convert version and built in the background
when the app starts. The page's data go in the spec as inline values.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_bundle: bytes | None = None

WIDTH = 520


def vega_bundle() -> bytes:
    """vega + vega-lite + vega-embed as one script defining ``window.vegaEmbed``."""
    global _bundle
    with _lock:
        if _bundle is None:
            import vl_convert

            cache = _cache_dir() / f"vega-embed-vl-convert-{vl_convert.__version__}.js"
            try:
                _bundle = cache.read_bytes()
            except OSError:
                _bundle = vl_convert.javascript_bundle().encode()
                try:
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cache.with_suffix(f".tmp{threading.get_ident()}")
                    tmp.write_bytes(_bundle)
                    tmp.replace(cache)
                except OSError:
                    pass  # a read-only home: build it again next time
        return _bundle


def warm_up() -> None:
    """Build (or load) the bundle in a background thread so the first page is not kept waiting."""
    threading.Thread(target=vega_bundle, name="zoo-ui-vega", daemon=True).start()


def _cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoo")) / "ui"


def _base(title: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": title,
            "width": WIDTH, "height": 160, "data": {"values": values}}


def metric_trend(name: str, versions: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """``key`` across the versions of a page, by version number."""
    values = [{"version": v["version"], key: v["metrics"][key]} for v in versions
              if isinstance(v["metrics"].get(key), (int, float))]
    if len(values) < 2:
        return None
    return {**_base(f"{key} by version", values),
            "mark": {"type": "line", "point": True},
            "encoding": {"x": {"field": "version", "type": "quantitative",
                               "axis": {"format": "d", "tickMinStep": 1}},
                         "y": {"field": key, "type": "quantitative", "scale": {"zero": False}}}}


def metric_intervals(metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Each metric with its interval, as points with error bars."""
    values = [{"metric": m["key"], "value": m["value"], "low": m["low"], "high": m["high"]}
              for m in metrics if m.get("low") is not None and isinstance(m["value"], (int, float))]
    if not values:
        return None
    encoding_y = {"field": "metric", "type": "nominal", "title": None}
    return {**_base("metrics with intervals", values), "height": {"step": 22},
            "layer": [
                {"mark": "rule", "encoding": {"y": encoding_y,
                                              "x": {"field": "low", "type": "quantitative",
                                                    "title": "value"},
                                              "x2": {"field": "high"}}},
                {"mark": {"type": "point", "filled": True},
                 "encoding": {"y": encoding_y, "x": {"field": "value", "type": "quantitative"}}},
            ]}


def batches(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows, latency, prediction mix and missing rates over the batches, oldest first."""
    ordered = batches[::-1]
    if not ordered:
        return []
    charts = []
    rows = [{"at": b["at"], "rows": b["rows"], "ms per 1k rows":
             1000 * 1000 * b["seconds"] / max(b["rows"], 1), "ref": b["ref"]} for b in ordered]
    time = {"field": "at", "type": "temporal", "title": None,
            "axis": {"format": "%b %d %H:%M:%S", "labelAngle": -30, "labelOverlap": True}}
    charts.append({**_base("rows per batch", rows), "mark": {"type": "bar"},
                   "encoding": {"x": time, "y": {"field": "rows", "type": "quantitative"},
                                "color": {"field": "ref", "type": "nominal"},
                                "tooltip": [{"field": "ref"}, {"field": "rows"}, {"field": "at"}]}})
    charts.append({**_base("latency (ms per 1,000 rows)", rows),
                   "mark": {"type": "line", "point": True},
                   "encoding": {"x": time, "y": {"field": "ms per 1k rows", "type": "quantitative"},
                                "color": {"field": "ref", "type": "nominal"}}})
    shares = []
    for b in ordered:
        labels = b["prediction"].get("labels")
        if isinstance(labels, dict):
            total = sum(v for v in labels.values() if isinstance(v, (int, float))) or 1
            shares += [{"at": b["at"], "label": str(k), "share": v / total}
                       for k, v in labels.items() if isinstance(v, (int, float))]
        elif isinstance(b["prediction"].get("mean"), (int, float)):
            shares.append({"at": b["at"], "label": "mean", "share": b["prediction"]["mean"]})
    if shares:
        charts.append({**_base("predictions (share of each label, or the mean)", shares),
                       # Bars, not an area: one batch is still a visible bar.
                       "mark": {"type": "bar"} if any(s["label"] != "mean" for s in shares)
                       else {"type": "line", "point": True},
                       "encoding": {"x": time, "y": {"field": "share", "type": "quantitative",
                                                     "stack": "normalize" if any(
                                                         s["label"] != "mean" for s in shares) else None},
                                    "color": {"field": "label", "type": "nominal"}}})
    missing = []
    for b in ordered:
        for column, rate in b["missing"].items():
            value = rate.get("rate") if isinstance(rate, dict) else rate
            if isinstance(value, (int, float)):
                missing.append({"at": b["at"], "column": str(column), "missing": value})
    if missing:
        charts.append({**_base("missing rate by column", missing), "mark": {"type": "line", "point": True},
                       "encoding": {"x": time, "y": {"field": "missing", "type": "quantitative",
                                                     "axis": {"format": "%"}},
                                    "color": {"field": "column", "type": "nominal"}}})
    return charts


def health(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The health score (0-100) the monitor recorded, over time."""
    if not points:
        return None
    return {**_base("health score", points), "mark": {"type": "line", "point": True},
            "encoding": {"x": {"field": "at", "type": "temporal", "title": None,
                               "axis": {"format": "%b %d %H:%M:%S", "labelAngle": -30}},
                         "y": {"field": "health", "type": "quantitative", "scale": {"domain": [0, 100]}},
                         "tooltip": [{"field": "ref"}, {"field": "health"}, {"field": "at"}]}}


def drift(alerts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How often each feature was reported drifted by the monitor's alerts."""
    counts: dict[str, int] = {}
    for a in alerts:
        for feature in a["details"].get("drifted") or []:
            counts[str(feature)] = counts.get(str(feature), 0) + 1
    if not counts:
        return None
    values = [{"feature": k, "alerts": v} for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:30]]
    return {**_base("features reported drifted", values), "height": {"step": 18},
            "mark": "bar", "encoding": {"y": {"field": "feature", "type": "nominal", "sort": "-x"},
                                        "x": {"field": "alerts", "type": "quantitative"}}}


def arms(arms: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """Each arm's mean with its 95% interval."""
    values = [{"arm": f"{a['arm']} ({a['ref']})", "mean": a["mean"], "low": a["low"], "high": a["high"]}
              for a in arms if a["mean"] is not None]
    if not values:
        return None
    y = {"field": "arm", "type": "nominal", "title": None}
    return {**_base(f"{metric} by arm (95% interval)", values), "height": {"step": 28},
            "layer": [{"mark": "rule", "encoding": {"y": y, "x": {"field": "low", "type": "quantitative",
                                                                  "title": metric}, "x2": {"field": "high"}}},
                      {"mark": {"type": "point", "filled": True, "size": 80},
                       "encoding": {"y": y, "x": {"field": "mean", "type": "quantitative"}}}]}
