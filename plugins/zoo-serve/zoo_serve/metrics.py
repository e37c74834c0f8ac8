"""Counters and latency histograms per model and version, as Prometheus text (``/metrics``).

Updated only from the event loop's thread, so plain dicts and ints need no lock.
"""

from __future__ import annotations

from typing import Any

#: Upper bounds of the latency histogram, in seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """What ``/metrics`` reports: requests by status code, errors, rows, latency, batches."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, int], int] = {}
        self.rows: dict[tuple[str, str], int] = {}
        self.latency: dict[tuple[str, str], list[float]] = {}  # bucket counts, then sum, count
        self.batches: dict[tuple[str, str], int] = {}
        self.served: dict[str, str] = {}  # ref as served -> version ref now behind it

    def request(self, model: str, version: str, endpoint: str, code: int, seconds: float,
                rows: int = 0) -> None:
        """Count one answered request."""
        key = (model, version, endpoint, code)
        self.requests[key] = self.requests.get(key, 0) + 1
        if rows:
            pair = (model, version)
            self.rows[pair] = self.rows.get(pair, 0) + rows
        if endpoint == "predict":
            hist = self.latency.get((model, version))
            if hist is None:
                hist = self.latency[(model, version)] = [0.0] * (len(BUCKETS) + 2)
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    hist[i] += 1
                    break
            hist[-2] += seconds
            hist[-1] += 1

    def batch(self, model: str, version: str) -> None:
        """Count one scoring call (several requests when batched)."""
        key = (model, version)
        self.batches[key] = self.batches.get(key, 0) + 1

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines = ["# HELP zoo_serve_requests_total Requests answered, by model, version, endpoint and status.",
                 "# TYPE zoo_serve_requests_total counter"]
        for (model, version, endpoint, code), n in sorted(self.requests.items()):
            labels = _labels(model=model, version=version, endpoint=endpoint, code=code)
            lines.append(f"zoo_serve_requests_total{labels} {n}")
        lines += ["# HELP zoo_serve_errors_total Requests answered with a 4xx or 5xx status.",
                  "# TYPE zoo_serve_errors_total counter"]
        errors: dict[tuple[str, str, str], int] = {}
        for (model, version, _endpoint, code), n in self.requests.items():
            if code >= 400:
                kind = "client" if code < 500 else "server"
                errors[(model, version, kind)] = errors.get((model, version, kind), 0) + n
        for (model, version, kind), n in sorted(errors.items()):
            lines.append(f"zoo_serve_errors_total{_labels(model=model, version=version, kind=kind)} {n}")
        lines += ["# HELP zoo_serve_rows_total Rows scored.", "# TYPE zoo_serve_rows_total counter"]
        for (model, version), n in sorted(self.rows.items()):
            lines.append(f"zoo_serve_rows_total{_labels(model=model, version=version)} {n}")
        lines += ["# HELP zoo_serve_batches_total Scoring calls (one per micro-batch).",
                  "# TYPE zoo_serve_batches_total counter"]
        for (model, version), n in sorted(self.batches.items()):
            lines.append(f"zoo_serve_batches_total{_labels(model=model, version=version)} {n}")
        lines += ["# HELP zoo_serve_request_seconds Latency of predict requests, in seconds.",
                  "# TYPE zoo_serve_request_seconds histogram"]
        for (model, version), hist in sorted(self.latency.items()):
            running = 0.0
            for bound, count in zip(BUCKETS, hist, strict=False):
                running += count
                lines.append(f"zoo_serve_request_seconds_bucket"
                             f"{_labels(model=model, version=version, le=repr(bound))} {int(running)}")
            pair = _labels(model=model, version=version)
            inf = _labels(model=model, version=version, le="+Inf")
            lines.append(f"zoo_serve_request_seconds_bucket{inf} {int(hist[-1])}")
            lines.append(f"zoo_serve_request_seconds_sum{pair} {hist[-2]!r}")
            lines.append(f"zoo_serve_request_seconds_count{pair} {int(hist[-1])}")
        lines += ["# HELP zoo_serve_model_info The version each served ref stands for now.",
                  "# TYPE zoo_serve_model_info gauge"]
        for ref, version in sorted(self.served.items()):
            lines.append(f"zoo_serve_model_info{_labels(ref=ref, version=version)} 1")
        return "\n".join(lines) + "\n"


def _labels(**labels: Any) -> str:
    """``{k="v",...}`` with Prometheus' escaping (backslash, quote, newline)."""
    parts = []
    for key, value in labels.items():
        text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{text}"')
    return "{" + ",".join(parts) + "}"
