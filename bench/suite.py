"""``python -m bench``: prepare the database, start the three apps, time every scenario, report."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench import charts, database, metadata, report, servers, walk, wrk
from bench.checks import check
from bench.config import NOISE_CORES, RESULTS_DIR, App, Load, apps, load_from_env
from bench.measure import measure, wait_for_quiet
from bench.pgstats import SessionCounter
from bench.report import Run
from bench.scenarios import scenarios


class Stopped(Exception):
    """SIGTERM, turned into an exception so that every context manager stops its servers."""


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise Stopped


def _loud(message: str) -> None:
    bar = "!" * 100
    print(f"\n{bar}\n{message}\n{bar}\n", file=sys.stderr, flush=True)


def _progress(number: int, total: int, run: Run) -> None:
    r = run.result
    print(
        f"bench: [{number}/{total}] {run.scenario} / {run.app}: {r.requests_per_second:.1f} req/s, "
        f"p50 {r.latency_us['p50'] / 1000:.2f} ms, p99 {r.latency_us['p99'] / 1000:.2f} ms, "
        f"app CPU {r.app_cpu:.0%}",
        file=sys.stderr,
        flush=True,
    )


def _run_all(
    data: database.Dataset, app_list: tuple[App, ...], load: Load, workdir: Path
) -> tuple[list[Run], list[walk.Walk]]:
    ids_file = workdir / "ids.txt"
    ids_file.write_text("\n".join(data.point_ids) + "\n")
    plan = scenarios(data)
    total = sum(len(scenario.targets) for scenario in plan)
    runs: list[Run] = []
    counter = SessionCounter()
    with contextlib.closing(counter), servers.running(app_list, workdir) as running:
        by_name = {name: server.app for name, server in running.items()}
        print("bench: walking the whole listing, page by page, in each app", file=sys.stderr, flush=True)
        walks = walk.walks(by_name, data.rows)
        for scenario in plan:
            check(scenario, by_name, sample_id=data.point_ids[0], token=secrets.token_hex(4))
            for target in scenario.targets:
                run = measure(scenario, target, running[target.app], load, workdir, ids_file, counter)
                runs.append(run)
                _progress(len(runs), total, run)
                if run.flags:
                    server = running[target.app]
                    _loud(
                        f"FLAGGED {run.scenario} / {run.app}: {'; '.join(run.flags)}\n"
                        f"last lines of its log:\n{server.log_tail()}"
                    )
                elif run.disturbed:
                    _loud(f"DISTURBED {run.scenario} / {run.app}: {run.disturbed}")
    return runs, walks


def main() -> int:
    wrk.require_wrk()
    signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C raises KeyboardInterrupt even when the caller started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    load = load_from_env()
    app_list = apps()
    started = datetime.now(UTC)
    data = asyncio.run(database.prepare())
    if data.seeded_now:
        print(f"bench: seeded {data.rows:,} students in {data.seconds_to_seed:.1f} s", file=sys.stderr)
    background = wait_for_quiet(load.quiet_wait)
    if background > NOISE_CORES:
        _loud(
            f"the machine is not idle: other processes kept {background:.2f} cores busy before the first "
            "run; the numbers will be lower and noisier than on a quiet machine (see `top`)"
        )
    env = metadata.collect(
        postgres=data.postgres_version,
        rows=data.rows,
        background_cores=background,
        load=load,
        service_header_names=sorted(app_list[0].headers),
    )
    try:
        with tempfile.TemporaryDirectory(prefix="students-bench-") as workdir:
            runs, walks = _run_all(data, app_list, load, Path(workdir))
    except (KeyboardInterrupt, Stopped):
        print("\nbench: interrupted; every server it started has been stopped", file=sys.stderr)
        return 130
    finally:
        asyncio.run(database.delete_posted())
    descriptions = {app.name: app.description for app in app_list}
    stem = f"{started:%Y%m%dT%H%M%SZ}"
    RESULTS_DIR.mkdir(exist_ok=True)
    pictures = {
        "requests/s per app and scenario": charts.throughput(
            runs, RESULTS_DIR / f"{stem}-throughput.png"
        ).name,
        "page time against depth": charts.page_depth(walks, RESULTS_DIR / f"{stem}-depth.png").name,
    }
    text = report.markdown(started, env, runs, descriptions, walks, pictures)
    data_out = {
        "started": started.isoformat(),
        "environment": env.as_dict(),
        "apps": descriptions,
        "dataset": {"rows": data.rows, "pages": {f"{k[0]}@{k[1]}": asdict(v) for k, v in data.pages.items()}},
        "runs": [run.as_dict() for run in runs],
        "walks": [w.as_dict() for w in walks],
    }
    markdown_path, json_path = report.write(RESULTS_DIR, started, text, data_out)
    print(text)
    print(f"bench: written {markdown_path.relative_to(Path.cwd())} and {json_path.name}", file=sys.stderr)
    disturbed = [run for run in runs if run.disturbed]
    if disturbed:
        listing = "\n".join(f"  {run.scenario} / {run.app}: {run.disturbed}" for run in disturbed)
        _loud(
            f"{len(disturbed)} run(s) DISTURBED by other processes; rerun on a quiet machine for numbers "
            f"worth quoting:\n{listing}"
        )
    flagged = [run for run in runs if run.flags]
    if flagged:
        _loud(
            f"{len(flagged)} run(s) FLAGGED (non-2xx responses or socket errors); their numbers are not "
            "valid:\n" + "\n".join(f"  {run.scenario} / {run.app}: {'; '.join(run.flags)}" for run in flagged)
        )
        return 1
    return 0
