"""The results as a Markdown report (stdout and bench/results/) and as JSON beside it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.config import NOISE_CORES, PAGE_SIZE
from bench.metadata import Environment
from bench.walk import EDGE, Walk
from bench.wrk import Measurement


@dataclass(frozen=True, slots=True)
class Run:
    scenario: str
    title: str
    app: str
    url: str
    command: str  # the wrk command line, header values redacted
    warmup: Measurement
    result: Measurement
    new_db_sessions: int  # sessions PostgreSQL saw opened on the benchmark database during the run
    # Earlier attempts at the same run that other processes disturbed, set aside (see measure.py).
    discarded: tuple[Measurement, ...] = ()

    @property
    def flags(self) -> list[str]:
        """What makes the run's numbers invalid: errors, in the measured run or its warm-up."""
        return self.result.problems + [f"warm-up: {problem}" for problem in self.warmup.problems]

    @property
    def disturbed(self) -> str | None:
        """Why the numbers may be low though valid: other processes took CPU during the run."""
        if self.result.other_cpu <= NOISE_CORES:
            return None
        return f"other processes used {self.result.other_cpu:.2f} cores during the run"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["result"]["requests_per_second"] = self.result.requests_per_second
        data["result"]["non_2xx"] = self.result.non_2xx
        data["result"]["other_cpu"] = self.result.other_cpu
        data["flags"] = self.flags
        data["disturbed"] = self.disturbed
        return data


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.2f}"


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator else "n/a"


def _results_table(runs: list[Run]) -> list[str]:
    lines = [
        "| scenario | app | requests/s | p50 ms | p99 ms | requests | non-2xx | socket errors "
        "| CPU app | CPU PostgreSQL | CPU wrk | CPU others | new DB sessions | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        r = run.result
        verdict = "ok"
        if run.flags:
            verdict = "**FLAGGED**: " + "; ".join(run.flags)
        elif run.disturbed:
            verdict = f"disturbed: {run.disturbed}"
        if run.discarded:
            verdict += f" ({len(run.discarded)} disturbed attempt(s) set aside)"
        rps = f"{r.requests_per_second:.1f}" + (" (!)" if run.flags else "")
        lines.append(
            f"| {run.scenario} | {run.app} | {rps} | {_ms(r.latency_us['p50'])} | {_ms(r.latency_us['p99'])} "
            f"| {r.requests} | {r.non_2xx} | {r.socket_error_count} | {r.app_cpu:.2f} | {r.postgres_cpu:.2f} "
            f"| {r.wrk_cpu:.2f} | {r.other_cpu:.2f} | {run.new_db_sessions} | {verdict} |"
        )
    return lines


def _comparison_table(runs: list[Run]) -> list[str]:
    by_scenario: dict[str, dict[str, Run]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, {})[run.app] = run
    lines = [
        "| scenario | service req/s | flat req/s | raw req/s | service / flat | service / raw |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for scenario, apps in by_scenario.items():
        if len(apps) < 2 or "service" not in apps:
            continue
        rps = {name: run.result.requests_per_second for name, run in apps.items()}
        cells = [f"{rps[name]:.1f}" if name in rps else "-" for name in ("service", "flat", "raw")]
        flat = _ratio(rps["service"], rps["flat"]) if "flat" in rps else "-"
        raw = _ratio(rps["service"], rps["raw"]) if "raw" in rps else "-"
        lines.append(f"| {scenario} | {' | '.join(cells)} | {flat} | {raw} |")
    return lines


def _depth_rows(runs: list[Run], app: str, first: str, deep: str) -> list[str]:
    pair = {run.scenario: run.result for run in runs if run.app == app and run.scenario in (first, deep)}
    if len(pair) < 2:
        return []
    a, b = pair[first], pair[deep]
    return [
        f"| {app} | {first} / {deep} | {a.requests_per_second:.1f} | {b.requests_per_second:.1f} "
        f"| {_ratio(b.requests_per_second, a.requests_per_second)} | {_ms(a.latency_us['p50'])} "
        f"| {_ms(b.latency_us['p50'])} | {_ratio(b.latency_us['p50'], a.latency_us['p50'])} |"
    ]


def _depth_table(runs: list[Run]) -> list[str]:
    return [
        "| app | pages | first req/s | deep req/s | deep / first | first p50 ms | deep p50 ms "
        "| deep / first |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *_depth_rows(runs, "service", "list_first", "list_deep"),
        *_depth_rows(runs, "raw", "list_first", "list_deep"),
        *_depth_rows(runs, "flat", "list_first", "list_deep"),
        *_depth_rows(runs, "service", "sorted_first", "sorted_deep"),
    ]


def _walk_table(walks: list[Walk]) -> list[str]:
    lines = [
        f"| app | order | pages timed | median of the first {EDGE} ms | median of the last {EDGE} ms "
        "| last / first |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for walk in walks:
        lines.append(
            f"| {walk.app} | {walk.order} | {len(walk.pages)} | {walk.first_ms:.2f} | {walk.last_ms:.2f} "
            f"| {walk.ratio:.2f}x |"
        )
    return lines


def _memory_table(runs: list[Run]) -> list[str]:
    peak: dict[str, float] = {}
    for run in runs:
        peak[run.app] = max(peak.get(run.app, 0.0), run.result.app_peak_rss_mb)
    return [
        "| app | peak RSS under load, MiB |",
        "|---|---:|",
        *[f"| {app} | {mb:.1f} |" for app, mb in peak.items()],
    ]


def markdown(
    started: datetime,
    env: Environment,
    runs: list[Run],
    apps: dict[str, str],
    walks: list[Walk] | None = None,
    charts: dict[str, str] | None = None,
) -> str:
    load = env.load
    flagged = [run for run in runs if run.flags]
    disturbed = [run for run in runs if run.disturbed and not run.flags]
    lines = [f"# Benchmark results, {started:%Y-%m-%d %H:%M:%S} UTC", ""]
    if flagged:
        lines += ["## FLAGGED RUNS: these numbers are not valid measurements", ""]
        lines += [f"- **{run.scenario} / {run.app}**: {'; '.join(run.flags)}" for run in flagged]
        lines.append("")
    if disturbed:
        lines += ["## Disturbed runs: other processes took CPU, so these numbers are low", ""]
        lines += [f"- **{run.scenario} / {run.app}**: {run.disturbed}" for run in disturbed]
        lines.append("")
    lines += [
        f"- command: `{env.command}`",
        f"- git commit: `{env.git_commit}`" + (" plus uncommitted changes" if env.git_dirty else ""),
        f"- Python {env.python}, PostgreSQL {env.postgres}, {env.wrk}",
        "- " + ", ".join(f"{name} {version}" for name, version in env.packages.items()),
        f"- machine: {env.cpus} x {env.cpu}, {env.memory}, Linux {env.kernel}",
        f"- data: {env.rows:,} students",
        f"- machine before the first run: {env.background_cores:.2f} cores busy with other work, "
        f"load average {env.load_average}"
        + (" (**NOT IDLE: expect lower, noisier numbers**)" if env.background_cores > NOISE_CORES else ""),
        f"- load: {load['connections']} connections, {load['threads']} wrk thread, "
        f"{load['warmup']} s warm-up then {load['duration']} s measured per run, "
        f"wrk timeout {load['timeout']} s; each run waits up to {load['quiet_wait']} s for a quiet machine "
        f"and is measured up to {load['attempts']} times while other processes disturb it",
        "- placement: each app alone on CPU 0 (uvicorn, 1 worker), wrk on CPU 1, PostgreSQL unpinned",
        "- extra headers sent to the service: "
        + (", ".join(env.service_header_names) if env.service_header_names else "none"),
        "",
        "Apps:",
        "",
        *[f"- **{name}**: {description}" for name, description in apps.items()],
        "",
        "## Every run",
        "",
        *_results_table(runs),
        "",
        "CPU columns: cores' worth of work during the measured run (1.00 = one core all the time, "
        f"{env.cpus} cores in all) by the app's process, by all of PostgreSQL's processes, by wrk, and "
        "by anything else on the machine. New DB sessions: connections the app opened to PostgreSQL "
        "during the run (pg_stat_database.sessions); a warm pool that keeps its connections opens none.",
        "",
        "## The service against the others (requests/s)",
        "",
        *_comparison_table(runs),
        "",
        "## First page against a deep page (keyset should not care; OFFSET does)",
        "",
        *_depth_table(runs),
        "",
        "## Memory",
        "",
        *_memory_table(runs),
        "",
        "The most each app's process held resident (VmHWM) since it started, read after each run.",
        "",
    ]
    if walks:
        lines += [
            f"## Walking the whole listing, {PAGE_SIZE} a page (one client, keep-alive)",
            "",
            *_walk_table(walks),
            "",
            "Every page, in turn, by its cursor (service, raw); the tutorial-style app pages with OFFSET "
            f"and is timed on its first and last {EDGE} pages and a sample between. Each walk runs twice, "
            "the second is kept.",
            "",
        ]
    if charts:
        lines += ["## Charts", "", *[f"![{title}]({name})" for title, name in charts.items()], ""]
    lines += [
        "## wrk commands",
        "",
        *[f"- {run.scenario} / {run.app}: `{run.command}`" for run in runs],
        "",
    ]
    return "\n".join(lines)


def write(directory: Path, started: datetime, text: str, data: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``<timestamp>.md`` and ``<timestamp>.json``, each whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{started:%Y%m%dT%H%M%SZ}"
    paths = directory / f"{stem}.md", directory / f"{stem}.json"
    for path, content in zip(paths, (text, json.dumps(data, indent=2, default=str) + "\n"), strict=True):
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(content)
        os.replace(partial, path)
    return paths
