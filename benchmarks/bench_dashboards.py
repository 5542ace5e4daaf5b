"""Dashboards benchmark: per page, the server-side time of its queries, the first render, a
filter change, and the app's peak memory, on published serving data.

    python -m benchmarks.bench_dashboards --serving FILE [--runs 3] [--browser]
    python -m benchmarks.bench_dashboards --scopes DIR --principal P [--runs 3] [--browser]

`--serving`: a serving file of the whole account (`sei publish`), read as demo mode reads it;
`--scopes` with `--principal`: that principal's scope file from a `sei publish --scopes` folder
(what a team manager's dashboards read). `--query k=v` adds URL query parameters to every
page (e.g. `--query team=T001`); by default each page opens at the top of the viewer's tree
(the largest node) over its default range.

Per page, under Streamlit's AppTest in this process:
  queries p95   the 95th percentile of the server-side time of every SQL query the page ran,
                over all its renders (target <= 300 ms);
  first render  the first run of the page's script in a fresh session (target <= 2 s);
  filter change a rerun after changing a control: granularity to quarter and statistic to p95
                (the row-level path) where the page has them, else "include sub-teams" off
                (target <= 1 s); median of --runs;
  peak memory   the peak RSS of this process after every page (app and harness, <= 1 GB).
The app's query cache is off (its figures are the queries' own) unless --cache.
With --browser, `sei dashboards` is also started for the same data and each page loaded in
headless chromium (dashboards/screenshots.py): load time per page and the server's peak RSS.
Prints a table, then the figures as JSON.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks.common import environ

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["views/dora.py", "views/sprints.py", "views/productivity.py", "views/alignment.py", "views/goals.py",
         "views/health.py"]
TARGETS = {"query_p95_ms": 300, "first_render_s": 2.0, "filter_change_s": 1.0, "peak_rss_mb": 1024}


@contextmanager
def viewer_env(serving: Path | None, scopes: Path | None, principal: str | None, cache: bool = False):
    """The settings under which the app reads the given file: demo mode over a serving file
    (a scratch folder marked as a demo, so the app allows it), or the principal's scope file.
    The query cache is off unless `cache`, so the figures are the queries' own."""
    env = {"SEI_DASHBOARD_PRINCIPAL": "", "SEI_DASHBOARD_DEMO": "", "SEI_DASHBOARD_PG": "",
           "SEI_DASHBOARD_CACHE_TTL": "600" if cache else "0"}
    tmp = Path(tempfile.mkdtemp(prefix="sei-bench-dashboards-"))
    if serving is not None:
        (tmp / "demo.json").write_text('{"size": "benchmark", "seed": 0}')
        env.update(SEI_WAREHOUSE=str(tmp / "sei.duckdb"), SEI_SERVING=str(serving.resolve()), SEI_DASHBOARD_DEMO="1")
    else:
        env.update(SEI_WAREHOUSE=str(tmp / "sei.duckdb"), SEI_SCOPES_DIR=str(scopes.resolve()),
                   SEI_DASHBOARD_PRINCIPAL=principal)
    with environ(env):
        yield env, tmp


class QueryClock:
    """Times every query the app runs (Data.sql), grouped by the page being rendered."""

    def __init__(self):
        from dashboards.data import Data
        self.cls, self.original, self.page, self.times, self.slowest = Data, Data.sql, None, {}, {}
        clock = self

        def timed(data, query, params=None):
            t0 = time.perf_counter()
            try:
                return clock.original(data, query, params)
            finally:
                dt_ = time.perf_counter() - t0
                clock.times.setdefault(clock.page, []).append(dt_)
                top = clock.slowest.setdefault(clock.page, {})
                key = " ".join(query.split())[:160]
                top[key] = max(top.get(key, 0.0), dt_)
        Data.sql = timed

    def close(self):
        self.cls.sql = self.original


def _change_filter(at):
    """Quarter and p95 where the page has them, else sub-teams off; None when it has no control."""
    keys = {getattr(w, "key", None) for w in at.selectbox}
    if "w_grain" in keys and "quarter" in at.selectbox(key="w_grain").options:
        at.selectbox(key="w_grain").set_value("quarter")
        if "w_stat" in keys and "p95" in at.selectbox(key="w_stat").options:
            at.selectbox(key="w_stat").set_value("p95")
        return "granularity quarter, statistic p95"
    if any(getattr(c, "key", None) == "w_sub" for c in at.checkbox):
        at.checkbox(key="w_sub").uncheck()
        return "sub-teams off"
    return None


def apptest_pages(runs: int, query: dict) -> list[dict]:
    from streamlit.testing.v1 import AppTest
    app = str(ROOT / "dashboards" / "app.py")
    clock = QueryClock()
    out = []
    try:
        warm = AppTest.from_file(app, default_timeout=600)   # imports and the connection, not counted
        warm.switch_page("views/health.py").run()
        for page in PAGES:
            clock.page = page
            first, changes, what, errors, rows = None, [], None, [], 0
            for i in range(runs):
                at = AppTest.from_file(app, default_timeout=600)
                at.query_params.update(query)
                at.switch_page(page)
                t0 = time.perf_counter()
                at.run()
                render = time.perf_counter() - t0
                first = render if first is None else first
                errors += [str(e.value) for e in at.exception]
                rows = sum(len(df.value) for df in at.dataframe)
                what = _change_filter(at)
                if what:
                    t0 = time.perf_counter()
                    at.run()
                    changes.append(time.perf_counter() - t0)
                    errors += [str(e.value) for e in at.exception]
            q = sorted(clock.times.get(page, []))
            out.append({"page": page.split("/")[-1][:-3], "queries": len(q) // runs,
                        "query_p95_ms": round(1000 * _p95(q), 1) if q else None,
                        "query_max_ms": round(1000 * q[-1], 1) if q else None,
                        "first_render_s": round(first, 3),
                        "filter_change_s": round(statistics.median(changes), 3) if changes else None,
                        "filter": what, "rows_shown": rows,
                        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                        "slowest_queries_ms": [(round(1000 * t), q) for q, t in sorted(
                            clock.slowest.get(page, {}).items(), key=lambda x: -x[1])[:3]],
                        "errors": errors[:3]})
            print(_row(out[-1]), flush=True)
    finally:
        clock.close()
    return out


def _p95(values: list[float]) -> float:
    """Continuous 95th percentile (as the marts compute theirs)."""
    if len(values) == 1:
        return values[0]
    k = 0.95 * (len(values) - 1)
    lo = int(k)
    return values[lo] + (values[min(lo + 1, len(values) - 1)] - values[lo]) * (k - lo)


def browser_pages(args: list[str], env: dict, cwd: Path) -> dict:
    """`sei dashboards` in its own process, each page loaded in headless chromium."""
    from dashboards.screenshots import capture, running
    out = cwd / "browser"
    with running(args, env=env, cwd=cwd, log=cwd / "server.log") as url:
        pid = _server_pid(url)
        shots = capture(url, out)
        peak = _vm_hwm(pid)
    return {"pages": {s.page: {"load_s": round(s.seconds, 2), "exceptions": len(s.exceptions)} for s in shots},
            "server_peak_rss_mb": peak}


def _server_pid(url: str) -> int | None:
    import subprocess
    port = url.rsplit(":", 1)[1]
    r = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True)
    import re
    m = re.search(r"pid=(\d+)", r.stdout)
    return int(m.group(1)) if m else None


def _vm_hwm(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        return None
    return None


def _ok(key: str, v) -> str:
    return "" if v is None else (" ok" if v <= TARGETS[key] else " OVER")


def _row(r: dict) -> str:
    return (f"| {r['page']} | {r['queries']} | {r['query_p95_ms']} ms{_ok('query_p95_ms', r['query_p95_ms'])} | "
            f"{r['first_render_s']} s{_ok('first_render_s', r['first_render_s'])} | "
            + (f"{r['filter_change_s']} s{_ok('filter_change_s', r['filter_change_s'])} ({r['filter']})"
               if r['filter_change_s'] is not None else "–")
            + f" | {r['peak_rss_mb']} MB{_ok('peak_rss_mb', r['peak_rss_mb'])} | {r['rows_shown']} |"
            + (f" errors: {r['errors']}" if r["errors"] else ""))


def table(result: dict) -> str:
    lines = [f"Dashboards on {result['data']} ({result['viewer']}, {result['size_mb']} MB), {result['runs']} runs "
             f"per page, query cache {'on' if result['cache'] else 'off'}",
             "| page | queries per render | queries p95 | first render | filter change | peak RSS | rows shown |",
             "|---|---|---|---|---|---|---|"]
    lines += [_row(r) for r in result["pages"]]
    if result.get("browser"):
        b = result["browser"]
        lines.append("browser loads: " + ", ".join(f"{p} {v['load_s']} s" for p, v in b["pages"].items())
                     + f"; server peak RSS {b['server_peak_rss_mb']} MB")
    return "\n".join(lines)


def run(serving: Path | None = None, scopes: Path | None = None, principal: str | None = None, runs: int = 3,
        browser: bool = False, query: dict | None = None, cache: bool = False) -> dict:
    if (serving is None) == (scopes is None) or (scopes is not None and not principal):
        raise SystemExit("give --serving FILE, or --scopes DIR with --principal P")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with viewer_env(serving, scopes, principal, cache) as (env, tmp):
        from dashboards.data import fixed_viewer
        v = fixed_viewer()
        result = {"data": str(v.path), "viewer": v.label, "runs": runs, "query": query or {}, "cache": cache,
                  "size_mb": round(v.path.stat().st_size / 2**20, 1), "targets": TARGETS}
        result["pages"] = apptest_pages(runs, query or {})
        if browser:
            args = ["--demo"] if serving is not None else ["--principal", principal]
            result["browser"] = browser_pages(args, env, tmp)
    return result


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serving", type=Path, help="a serving file of the whole account (read as demo mode does)")
    ap.add_argument("--scopes", type=Path, help="a `sei publish --scopes` folder (with --principal)")
    ap.add_argument("--principal", help="whose scope file to read")
    ap.add_argument("--runs", type=int, default=3, help="renders per page (fresh sessions)")
    ap.add_argument("--browser", action="store_true", help="also load every page in headless chromium")
    ap.add_argument("--query", action="append", default=[], metavar="K=V", help="URL query parameter for every page")
    ap.add_argument("--cache", action="store_true", help="with the app's query cache on (SEI_DASHBOARD_CACHE_TTL): "
                                                         "later runs of a page are answered from it")
    a = ap.parse_args(argv)
    query = dict(q.split("=", 1) for q in a.query)
    r = run(a.serving, a.scopes, a.principal, a.runs, a.browser, query, a.cache)
    print(table(r))
    print(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main()
