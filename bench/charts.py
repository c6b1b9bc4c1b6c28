"""The report's pictures (matplotlib): requests/s per app and scenario, page time against depth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.report import Run
    from bench.walk import Walk

_APPS = ("service", "flat", "raw")
_COLOURS = {"service": "#1f77b4", "flat": "#ff7f0e", "raw": "#2ca02c"}


def throughput(runs: list[Run], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    scenarios = list(dict.fromkeys(run.scenario for run in runs))
    rate = {(run.scenario, run.app): run.result.requests_per_second for run in runs}
    figure, axes = pyplot.subplots(figsize=(10, 4.8))
    width = 0.27
    for offset, app in enumerate(_APPS):
        xs = [i + (offset - 1) * width for i, s in enumerate(scenarios) if (s, app) in rate]
        ys = [rate[s, app] for s in scenarios if (s, app) in rate]
        axes.bar(xs, ys, width, label=app, color=_COLOURS[app])
    axes.set_xticks(range(len(scenarios)), scenarios, rotation=20, ha="right")
    axes.set_ylabel("requests/s (one uvicorn worker)")
    axes.set_title("Throughput per scenario, PostgreSQL, 200,000 students")
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def page_depth(walks: list[Walk], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 4.8))
    for walk in walks:
        rows = [row for row, _ in walk.pages]
        ms = [ms for _, ms in walk.pages]
        label = f"{walk.app} ({'cursor' if walk.app != 'flat' else 'OFFSET'}, order {walk.order})"
        style = "o" if walk.app == "flat" else "-"
        axes.plot(rows, ms, style, markersize=3, linewidth=0.8, label=label, color=_COLOURS[walk.app],
                  alpha=0.6 if walk.order == "name" else 1.0)  # fmt: skip
    axes.set_yscale("log")
    axes.set_xlabel("first row of the page")
    axes.set_ylabel("ms per page (one client, log scale)")
    axes.set_title("Page time against depth, limit=50")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path
