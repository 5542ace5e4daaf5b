"""GitHub's REST listings (deployments, releases, workflow runs) on incremental runs: only the
repositories where something can have changed are asked (pushed, something still open, the
rolling sweep; new and failed ones as always), and the loaded rows equal a fresh full sync's.

The sweep measures the time between runs by the API's clock (its Date header). The simulator
runs with a time scale so large that its clock stands still between `/_sim/advance` calls
(real seconds pass at a millionth of a simulated second each), so what a run sweeps does
not depend on how long the test takes on a loaded machine.
"""
from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from simulator.http import GITHUB_TOKEN
from tests.helpers import environ
from tests.test_ingest_github import query, sim_get, write_sources

pytestmark = pytest.mark.xdist_group("ingest_github")

REPO_TABLES = ("deployments", "deployment_statuses", "releases", "workflow_runs")
LISTINGS = {"deployments": "/deployments", "releases": "/releases", "workflow_runs": "/actions/runs"}
SWEEP_HOURS = 2
SETTLE = 600
FROZEN = 1e6   # the simulator's clock moves only when the test advances it


def run_sync(tmp: Path, url: str, lines: list[str] | None = None, sweep_hours: float = SWEEP_HOURS):
    from ingestion import pipeline
    tmp.mkdir(parents=True, exist_ok=True)
    src = write_sources(tmp / "sources.yml", url, ["acme-payments/*"])
    src.write_text(src.read_text().replace("    page_size: 50\n", f"    page_size: 50\n    rest_sweep_hours: {sweep_hours}\n"))
    with environ(SEI_WAREHOUSE=str(tmp / "sei.duckdb"), SEI_SOURCES=str(src), SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN,
                 SEI_WAIT_SCALE="0.001", SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None):
        r = pipeline.run(["github"], progress=lines is not None, echo=(lines.append if lines is not None else None))
    assert r.status == "success", r.source("github").error_message
    return r


def advance(sim, hours: float) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/advance?hours={hours}", method="POST")).read()


def listed(sim) -> dict[str, set[str]]:
    """The repositories each REST listing asked since the last reset of the simulator's stats."""
    paths = sim_get(sim, "/_sim/requests?prefix=/repos/")["by_path"]
    out = {k: set() for k in LISTINGS}
    for p in paths:
        path = p.split(" ", 1)[1]
        for res, tail in LISTINGS.items():
            if path.endswith(tail) and path.count("/") == 3 + tail.count("/"):
                out[res].add(path[len("/repos/"):-len(tail)])
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/stats/reset", method="POST")).read()
    return out


def pushed_at(sim) -> dict[str, str]:
    """Each repository's pushed_at, as GitHub's REST API gives it."""
    import json
    req = urllib.request.Request(f"{sim.url}/orgs/acme-payments/repos?per_page=100",
                                 headers={"Authorization": f"Bearer {GITHUB_TOKEN}"})
    with urllib.request.urlopen(req) as r:
        return {x["full_name"]: x["pushed_at"] for x in json.loads(r.read())}


def rows(db: Path, repos: set[str] | None = None) -> dict[str, list[tuple]]:
    """Each table's rows (repository first, then the columns by name; URLs with the
    simulator's port left out), of `repos` only when given."""
    out = {}
    for t in REPO_TABLES:
        df = query(db, f"SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.{t}")
        df = df[["repository"] + [c for c in sorted(df.columns) if not c.endswith("url") and c != "repository"]]
        out[t] = sorted(tuple(str(v) for v in r) for r in df.itertuples(index=False)
                        if repos is None or r[0] in repos)
    return out


def still_open(db: Path) -> dict[str, set[str]]:
    """Repositories with a deployment not finished or a workflow run not completed, read
    from the warehouse (what the previous run loaded)."""
    runs = query(db, "SELECT DISTINCT repository FROM raw_github.workflow_runs WHERE status <> 'completed'")
    deps = query(db, """SELECT DISTINCT repository FROM (
        SELECT repository, deployment_id, arg_max(state, created_at) AS state
        FROM raw_github.deployment_statuses GROUP BY ALL) WHERE state IN ('queued', 'pending', 'in_progress')""")
    return {"deployments": set(deps.repository), "releases": set(), "workflow_runs": set(runs.repository)}


def epoch(iso: str) -> float:
    import datetime as dt
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.mark.slow
def test_incremental_rest_listings_ask_only_where_something_can_have_changed(tmp_path):
    """The tiny world on a Monday afternoon (only atlas-api deploys through GitHub): a full
    sync at 14:45, then runs at 15:00, 15:15 and 17:00 with `rest_sweep_hours: 2`. At 15:00
    the staging deployment atlas-api started at 14:59:37 exists but nothing was pushed to
    atlas-api since 12:43: the listing does not ask it, and the sweep (7 repositories x 15 min
    / 2 h = 0.875, carried over) lists nothing yet. At 15:15 the sweep's share reaches 1.75:
    it lists the repository whose last listing is oldest (atlas-api, first by name among the
    full sync's), and the deployment appears. Every repository a run lists then holds exactly
    the rows a fresh full sync at that moment loads, and the last run's tables equal the
    fresh full sync's."""
    from simulator import generate
    from simulator.server import SimServer
    w = generate("tiny", seed=7)
    w.now, _ = w.now + int(14.75 * 3600), w._cache.clear()  # Monday 2026-11-02 14:45
    atlas, dep_id = "acme-payments/atlas-api", 1900000518     # its staging deployment of 14:59:37
    with SimServer(w, time_scale=FROZEN) as s:
        inc = tmp_path / "inc"
        run_sync(inc, s.url)
        db = inc / "sei.duckdb"
        repos = set(pushed_at(s))
        first = listed(s)
        assert all(v == repos for v in first.values()), first  # a first sync lists every repository
        n = len(repos)
        # the test's own record of each repository's last listing (per listing): the step,
        # its pushedAt and the newest push of all then
        pushes = pushed_at(s)
        newest = max(pushes.values())
        last = {res: {r: (0, pushes[r], newest) for r in repos} for res in LISTINGS}
        credit = {res: 0.0 for res in LISTINGS}
        seen_reasons = []
        for step, hours in enumerate((0.25, 0.25, 1.75), start=1):
            before_open = still_open(db)
            before_rows = rows(db)
            advance(s, hours)
            listed(s)  # the test's own requests do not count
            lines: list[str] = []
            run_sync(inc, s.url, lines)
            got = listed(s)
            pushes = pushed_at(s)
            listed(s)
            newest = max(pushes.values())
            for res in LISTINGS:
                pushed = {r for r in repos if epoch(pushes[r]) > epoch(last[res][r][1])
                          or epoch(last[res][r][2]) - epoch(last[res][r][1]) < SETTLE}
                must = pushed | before_open[res]
                assert must <= got[res], (step, res, must - got[res])
                swept = got[res] - must
                # the sweep: the share of the time since the last run (carried over), and every
                # repository not listed for 2 hours, oldest listing first
                credit[res] += n * hours / SWEEP_HOURS
                due = {r for r in repos - must if step - last[res][r][0] > 0 and
                       sum((0.25, 0.25, 1.75)[last[res][r][0]:step]) >= SWEEP_HOURS}
                k = max(len(due), int(credit[res]))
                k = min(k, len(repos - must))
                credit[res] = max(0.0, credit[res] - k)
                assert len(swept) == k, (step, res, swept, k)
                order = sorted(repos - must, key=lambda r: (last[res][r][0], r))
                assert swept == set(order[:k]), (step, res, swept, order[:k])
                for r in got[res]:
                    last[res][r] = (step, pushes[r], newest)
                summary = [ln for ln in lines if f"github.{res}: {len(got[res])} of {n} repositories listed" in ln]
                assert summary, (res, lines)
                seen_reasons.append((step, res, summary[0].strip()))
            # a fresh full sync at the same moment: every repository listed holds its rows
            full = tmp_path / f"full{step}"
            run_sync(full, s.url)
            listed(s)
            for res in LISTINGS:
                table = {"deployments": ("deployments", "deployment_statuses"), "releases": ("releases",),
                         "workflow_runs": ("workflow_runs",)}[res]
                a, b = rows(db, got[res]), rows(full / "sei.duckdb", got[res])
                for t in table:
                    assert a[t] == b[t], (step, t, len(a[t]), len(b[t]))
                # and the others kept what they had
                for t in table:
                    assert rows(db, repos - got[res])[t] == [x for x in before_rows[t] if x[0] not in got[res]]
            deps = set(query(db, "SELECT id FROM raw_github.deployments").id)
            if step == 1:
                assert atlas not in got["deployments"] and dep_id not in deps
                assert dep_id in set(query(full / "sei.duckdb", "SELECT id FROM raw_github.deployments").id)
            if step == 2:  # the sweep reached atlas-api: its deployment made without a push is in
                assert atlas in got["deployments"] and dep_id in deps
                assert atlas not in pushed and atlas not in before_open["deployments"]
        # the last run listed every repository (2 hours since the full sync): same tables
        assert got["deployments"] == repos
        assert rows(db) == rows(full / "sei.duckdb")
    print("\n" + "\n".join(f"{st} {ln}" for st, _, ln in seen_reasons))


def reasons(lines: list[str], resource: str) -> str:
    hit = [ln.strip() for ln in lines if f"github.{resource}: " in ln and "repositories listed" in ln]
    assert len(hit) == 1, (resource, lines)
    return hit[0]


@pytest.mark.slow
def test_new_failed_and_every_run_listings(tmp_path):
    """A repository whose listing failed is listed again the next run (retry), one new in the
    sources file is listed (new) while the others are not asked again, and
    `rest_sweep_hours: 0` lists every repository every run."""
    from simulator import generate
    from simulator.server import SimServer
    w = generate("tiny", seed=7)
    a, b, missing = "acme-payments/beacon-api", "acme-payments/delta-api", "acme-payments/no-such-repo"
    with SimServer(w, time_scale=FROZEN) as s:
        def run(repos, sweep_hours=SWEEP_HOURS):
            from ingestion import pipeline
            src = write_sources(tmp_path / "sources.yml", s.url, list(repos))
            src.write_text(src.read_text().replace("    page_size: 50\n",
                                                   f"    page_size: 50\n    rest_sweep_hours: {sweep_hours}\n"))
            lines: list[str] = []
            with environ(SEI_WAREHOUSE=str(tmp_path / "sei.duckdb"), SEI_SOURCES=str(src),
                         SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SEI_WAIT_SCALE="0.001",
                         SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None):
                r = pipeline.run(["github"], progress=True, echo=lines.append)
            return r, lines, listed(s)
        r, lines, got = run((a, missing))
        assert r.status == "partial" and got["deployments"] == {a, missing}
        r, lines, got = run((a, missing))  # the clock has not moved: only the failed one again
        assert r.status == "partial" and "no-such-repo" in r.source("github").error_message
        for res in LISTINGS:
            assert missing in got[res] and "retry 1" in reasons(lines, res), (res, got[res], lines)
        r, lines, got = run((a, missing, b))
        for res in LISTINGS:
            assert b in got[res] and "new 1" in reasons(lines, res)
        r, lines, got = run((a, missing, b), sweep_hours=0)
        for res in LISTINGS:
            assert got[res] == {a, missing, b} and "3 of 3 repositories listed" in reasons(lines, res)
        db = tmp_path / "sei.duckdb"
        runs = query(db, f"SELECT count(*) n FROM raw_github.workflow_runs WHERE repository = '{b}'").n.iloc[0]
        assert runs > 0


def test_rest_sweep_hours_setting_is_checked(tmp_path):
    from ingestion.config import ConfigError, load
    f = tmp_path / "s.yml"
    f.write_text("integrations:\n  github:\n    base_url: https://api.github.com\n    rest_sweep_hours: 12\n")
    assert load(f).github().options["rest_sweep_hours"] == 12
    f.write_text(f.read_text().replace("12", "-1"))
    with pytest.raises(ConfigError, match=r"s\.yml:4: integrations\.github\.rest_sweep_hours -1 .*Fix: "):
        load(f)
    f.write_text(f.read_text().replace("-1", "daily"))
    with pytest.raises(ConfigError, match="rest_sweep_hours 'daily'"):
        load(f)


@pytest.mark.slow
def test_a_delivery_lists_its_repository_whatever_the_sweep(tmp_path):
    """The push path narrows the sync to the repositories the deliveries name and lists each
    of them: the staging deployment atlas-api started at 14:59:37 without a push, which the
    hourly run's listing skips at 15:00 (the previous test), arrives by its webhook."""
    from simulator import generate
    from simulator.server import SimServer
    from simulator.webhooks import WebhookSender
    from webhooks.apply import apply_pending
    from tests.webhook_receiver import ENV, SECRET, Receiver
    w = generate("tiny", seed=7)
    w.now, _ = w.now + int(14.75 * 3600), w._cache.clear()  # Monday 2026-11-02 14:45
    atlas, dep_id = "acme-payments/atlas-api", 1900000518
    inc = tmp_path / "inc"
    receiver = Receiver(tmp_path / "webhooks.sqlite")
    try:
        with SimServer(w, time_scale=FROZEN) as s:
            run_sync(inc, s.url)
            sender = WebhookSender(w, receiver.url, SECRET)
            advance(s, 0.25)
            named = {p["repository"]["full_name"] for d, (src, ev, p) in sender.deliveries.items()
                     if src == "github" and ev.startswith("deployment")}
            assert atlas in named, sender.deliveries   # its deployment's webhook
            with environ(SEI_WAREHOUSE=str(inc / "sei.duckdb"), SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN,
                         SEI_WAIT_SCALE="0.001", SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None,
                         **ENV):
                res = apply_pending(config_path=inc / "sources.yml", spool_file=tmp_path / "webhooks.sqlite",
                                    say=lambda line: None, publish=False, build=False)
            assert res.newly_applied > 0
    finally:
        receiver.stop()
    deps = set(query(inc / "sei.duckdb", "SELECT id FROM raw_github.deployments").id)
    assert dep_id in deps
