"""The Insights dashboards under Streamlit's AppTest on the tiny organisation, published with
the example policy (tests/dashboards_world.py): what a page shows equals an independent query
on the whole account's serving file for the same filters; a team manager's pages hold no
team, service or name outside its subtree; masked authors read "(outside your scope)"; empty
results say why; the viewer comes from --principal, demo mode or the OIDC login, and without
one nothing is shown."""
from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import dashboards_world as W
from core.settings import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dashboards")]

APP = str(PROJECT_ROOT / "dashboards" / "app.py")
PAGES = ["views/dora.py", "views/sprints.py", "views/productivity.py", "views/alignment.py", "views/goals.py",
         "views/health.py"]
MANAGER, MANAGER_TEAM = "elena", "T002"      # the example policy: elena manages Team Atlas's subtree


@pytest.fixture(scope="module")
def w():
    return W.built()


@pytest.fixture()
def viewer_env(w, monkeypatch):
    """Point the app at the published data; returns a setter for the viewer's settings."""
    for k, v in W.env(w).items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SEI_DASHBOARD_PRINCIPAL", raising=False)
    monkeypatch.delenv("SEI_DASHBOARD_DEMO", raising=False)

    def set_viewer(principal=None, demo=False):
        if principal:
            monkeypatch.setenv("SEI_DASHBOARD_PRINCIPAL", principal)
        if demo:
            monkeypatch.setenv("SEI_DASHBOARD_DEMO", "1")
    return set_viewer


def page(name: str, query: dict | None = None, secrets: dict | None = None, user: dict | None = None):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=180)
    if secrets:
        at.secrets = secrets
    if user is not None:
        at.user = user
    at.query_params.update(query or {})
    at.switch_page(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def number(text: str) -> float:
    """A tile's figure back as a number in the mart's unit (hours, a ratio, a count)."""
    m = re.fullmatch(r"([-\d.,]+)\s*(h|d|%)?", text.strip())
    assert m, text
    v = float(m.group(1).replace(",", ""))
    return {"d": v * 24, "%": v / 100}.get(m.group(2), v)


def metric(at, label_start: str) -> str:
    hits = [m.value for m in at.metric if m.label == label_start] or \
        [m.value for m in at.metric if m.label.startswith(label_start)]
    assert len(hits) == 1, [m.label for m in at.metric]
    return hits[0]


def frame(at, key: str) -> pd.DataFrame:
    """The table shown under `key`: every table comes with its CSV button (dashboards/ui.py
    table()), so the n-th button names the n-th table."""
    keys = [b.key for b in at.download_button]
    assert len(keys) == len(at.dataframe) and f"dl_{key}" in keys, (key, keys)
    return at.dataframe[keys.index(f"dl_{key}")].value


def texts(at) -> str:
    """Every piece of text the page rendered (titles, captions, markdown, alerts, tiles, options)."""
    parts = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "info", "error", "warning", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for sb in at.selectbox:
        parts += [sb.label, *[str(o) for o in sb.options]]
    return "\n".join(parts)


def default_range(hi_start: dt.date, grain: str = "month", days: int = 182) -> tuple[dt.date, dt.date]:
    """The range a page opens with: whole periods from `days` days before the end of the last
    complete period (`hi_start`) to that end."""
    hi = pd.Timestamp(hi_start) + (pd.DateOffset(months=1) if grain == "month" else pd.DateOffset(weeks=1)) \
        - pd.Timedelta(days=1)
    lo = hi - pd.Timedelta(days=days)
    lo = lo.replace(day=1) if grain == "month" else lo - pd.Timedelta(days=lo.weekday())
    return lo.date(), hi.date()


def last_complete(w, mart: str, where: str, params: list, period: str = "period_start") -> pd.Series:
    """The last complete period's row: the latest period of the mart's date spine holds the
    end of the data (partial), and the pages stop before it by default."""
    return W.full(w, f"select * from marts.{mart} where {where} and {period} < (select max({period}) from "
                     f"marts.{mart}) order by {period} desc limit 1", params).iloc[0]


# --------------------------------------------------------------------------- DORA
def test_dora_tiles_and_tables_equal_the_marts(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/dora.py")
    team = W.subtree(w, "reporting", MANAGER_TEAM)
    last = last_complete(w, "dora_team_monthly", "tree = 'reporting' and team_id = ? and includes_subteams",
                         [MANAGER_TEAM])
    assert number(metric(at, "Deployment frequency")) == pytest.approx(last.deployments_per_week, abs=0.005)
    assert number(metric(at, "Lead time for changes")) == pytest.approx(last.lead_time_p50_hours, abs=2.4)
    assert number(metric(at, "Change failure rate")) == pytest.approx(last.change_failure_rate, abs=0.0005)
    assert last.deployments > 0, "the check compares a real figure"
    # the service breakdown and the drill-down rows, independently from the whole account
    services = frame(at, "dora_services")
    want = W.full(w, "select service, deployments, lead_time_p50_hours from marts.dora_service_monthly "
                     "where period_start = ? and team_id in (select unnest(?::varchar[])) order by service",
                  [last.period_start, sorted(team)])
    assert list(services.service) == list(want.service) and list(services.deployments) == list(want.deployments)
    start, end = default_range(last.period_start)
    deps = frame(at, "dora_deployments")
    want = W.full(w, "select deployment_id from marts.fct_deployments where is_production and team_id in "
                     "(select unnest(?::varchar[])) and coalesce(finished_at, started_at) >= ? and "
                     "coalesce(finished_at, started_at) < ?",
                  [sorted(team), pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)])
    assert len(want) > 0 and sorted(deps.deployment_id) == sorted(want.deployment_id)
    inc = frame(at, "dora_incidents")
    want = W.full(w, "select incident_id from marts.fct_incidents where team_id in (select unnest(?::varchar[])) "
                     "and opened_at >= ? and opened_at < ?",
                  [sorted(team), pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)])
    assert sorted(inc.incident_id) == sorted(want.incident_id)


def test_dora_changes_name_only_authors_in_scope(w, viewer_env):
    """fct_changes masks the person columns of authors outside the viewer's teams: the page
    says so instead of a blank, and names every author who was in the subtree at the time."""
    viewer_env(MANAGER)
    at = page("views/dora.py", {"from": "2025-11-01", "to": "2026-10-31", "partial": "1"})
    chg = frame(at, "dora_changes")
    team = W.subtree(w, "reporting", MANAGER_TEAM)
    want = W.full(w, "select c.deployment_id, c.pull_request_id, exists (select 1 from marts.bridge_pull_request_team b "
                     "where b.pull_request_id = c.pull_request_id and b.tree = 'reporting' and "
                     "b.team_id in (select unnest(?::varchar[]))) as in_scope "
                     "from marts.fct_changes c join marts.fct_deployments p using (deployment_id) "
                     "where p.team_id in (select unnest(?::varchar[])) and c.deployed_at >= '2025-11-01' "
                     "and c.deployed_at < '2026-11-01'", [sorted(team), sorted(team)])
    assert len(chg) == len(want) > 0
    outside = chg[chg.author_login == "(outside your scope)"]
    assert len(outside) == int((~want.in_scope).sum()) > 0, "the tiny org has changes by authors outside T002"
    named = chg[chg.author_login != "(outside your scope)"]
    assert named.author_login.notna().all()
    assert set(named.pull_request_id) == set(want[want.in_scope].pull_request_id)
    assert named.pull_request_url.str.contains(r"/pull/\d+$").all()


def test_dora_admin_sees_child_teams_alone_and_with_subteams(w, viewer_env):
    viewer_env("leo")
    at = page("views/dora.py", {"tree": "reporting", "team": "T001"})
    kids = frame(at, "dora_child_teams")
    last = W.full(w, "select max(period_start) p from marts.dora_team_monthly where period_start < "
                     "(select max(period_start) from marts.dora_team_monthly)").p.iloc[0]
    want = W.full(w, "select t.team_id, m.includes_subteams, m.deployments, m.changes from marts.dim_team t "
                     "join marts.dora_team_monthly m on m.tree = t.tree and m.team_id = t.team_id "
                     "where t.tree = 'reporting' and t.parent_team_id = 'T001' and m.period_start = ? "
                     "order by 1, 2", [last])
    assert len(want) == 8   # four child teams, alone and with sub-teams
    got = kids[["team_id", "includes_subteams", "deployments", "changes"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_url_query_string_selects_the_view_and_is_kept(w, viewer_env):
    viewer_env("leo")
    at = page("views/dora.py", {"tree": "reporting", "team": "T004", "sub": "0", "grain": "week",
                                "stat": "p90", "from": "2026-06-01", "to": "2026-06-30"})
    want = W.full(w, "select * from marts.dora_team_weekly where tree = 'reporting' and team_id = 'T004' and not "
                     "includes_subteams and period_start between '2026-06-01' and '2026-06-30' "
                     "order by period_start desc limit 1").iloc[0]
    assert number(metric(at, "Deployment frequency")) == pytest.approx(want.deployments_per_week, abs=0.005)
    if pd.notna(want.lead_time_p90_hours):
        assert number(metric(at, "Lead time for changes (p90)")) == pytest.approx(want.lead_time_p90_hours, abs=2.4)
    for k, v in {"team": "T004", "sub": "0", "grain": "week", "stat": "p90", "from": "2026-06-01"}.items():
        assert at.query_params[k] in (v, [v]), (k, at.query_params.get(k))


def test_dora_band_for_another_report_year(w, viewer_env):
    """The band lookup the page uses for a report year the marts were not built with agrees
    with dbt's own classification on every row of the built year; and the tile shows it."""
    from dashboards.ui import band_for
    bands = W.full(w, "select * from marts.dora_performance_bands")
    rows = W.full(w, "select * from marts.dora_team_monthly")
    year = int(rows.dora_report_year.iloc[0])
    pairs = [("deployments_per_week", "deployment_frequency_band"), ("lead_time_p50_hours", "lead_time_band"),
             ("change_failure_rate", "change_failure_rate_band"), ("recovery_time_p50_hours", "recovery_time_band")]
    for metric_col, band_col in pairs:
        got = [band_for(bands, year, metric_col, v) for v in rows[metric_col]]
        assert got == [None if pd.isna(b) else b for b in rows[band_col]], metric_col
    other = next(y for y in sorted(bands.report_year.unique()) if y != year)
    viewer_env(MANAGER)
    at = page("views/dora.py", {"year": str(other)})
    last = rows[(rows.tree == "reporting") & (rows.team_id == MANAGER_TEAM) & rows.includes_subteams &
                (rows.period_start < rows.period_start.max())].sort_values("period_start").iloc[-1]
    want = band_for(bands, int(other), "lead_time_p50_hours", last.lead_time_p50_hours)
    assert f"band: **{want}**" in [c.value for c in at.caption]


def test_empty_range_says_why(w, viewer_env):
    viewer_env("leo")
    months = W.full(w, "select period_start from marts.dora_team_monthly where tree = 'reporting' and team_id = 'T000' "
                       "and not includes_subteams and production_deployments = 0 and changes = 0 order by 1")
    assert len(months), "Engineering alone (no services) has a month without shipped changes"
    m = months.period_start.iloc[0]
    at = page("views/dora.py", {"tree": "reporting", "team": "T000", "sub": "0", "from": f"{m:%Y-%m-%d}",
                                "to": f"{m:%Y-%m-%d}"})
    assert any("No production deployments and no shipped changes" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


# --------------------------------------------------------------------------- other pages
def test_sprint_page_equals_sprint_metrics(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/sprints.py", {"from": "2025-01-01", "to": "2027-01-01", "partial": "1"})
    got = frame(at, "sprints")
    want = W.full(w, "select sprint_id, committed_points, delivered_points from marts.sprint_metrics where tree = "
                     "'reporting' and team_id = ? order by sprint_started_at, sprint_id", [MANAGER_TEAM])
    assert len(want) > 0 and list(got.sprint_id) == list(want.sprint_id)
    assert got.committed_points.fillna(-1).tolist() == want.committed_points.fillna(-1).tolist()
    assert number(metric(at, "Completed (points)")) == pytest.approx(want.delivered_points.fillna(0).iloc[-1])


def test_productivity_page_equals_the_marts(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/productivity.py")
    last = last_complete(w, "productivity_team_monthly", "tree = 'reporting' and team_id = ? and includes_subteams",
                         [MANAGER_TEAM], "month_start")
    assert number(metric(at, "Merged PRs per")) == pytest.approx(last.merged_prs_per_developer, abs=0.005)
    assert number(metric(at, "Merged PRs")) == last.merged_prs
    devs = frame(at, "productivity_developers")
    assert len(devs) > 0 and set(devs.team_id) == {MANAGER_TEAM}
    start, _ = default_range(last.month_start)
    allowed = W.full(w, "select developer_id, month_start, merged_prs from marts.productivity_developer_monthly "
                        "where tree = 'reporting' and team_id = ? and month_start >= ?",
                     [MANAGER_TEAM, pd.Timestamp(start).replace(day=1)])
    got = set(zip(devs.developer_id, pd.to_datetime(devs.month_start), devs.merged_prs))
    assert got <= set(zip(allowed.developer_id, pd.to_datetime(allowed.month_start), allowed.merged_prs))


def test_alignment_page_equals_the_mart(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/alignment.py", {"from": "2026-01-01", "to": "2026-10-31", "partial": "1"})
    got = frame(at, "alignment")
    want = W.full(w, "select month_start, category, effort, effort_share from marts.alignment_team_monthly where "
                     "tree = 'reporting' and team_id = ? and includes_subteams and month_start between "
                     "'2026-01-01' and '2026-10-31' order by month_start, category", [MANAGER_TEAM])
    assert len(want) > 0
    pd.testing.assert_frame_equal(got[["period_start", "category", "effort", "effort_share"]]
                                  .rename(columns={"period_start": "month_start"}).reset_index(drop=True),
                                  want, check_dtype=False)


def test_goals_page_equals_goal_status(w, viewer_env):
    viewer_env("leo")
    at = page("views/goals.py", {"tree": "reporting", "team": "T000", "partial": "1"})
    got = frame(at, "goals")
    want = W.full(w, "select goal_id, team_id, status, actual, target from marts.goal_status where is_latest_period "
                     "and tree = 'reporting' and team_id in (select team_id from marts.dim_team where tree = 'reporting') "
                     "order by team_id, goal_id")   # a goal may name a team the org does not have: not shown
    assert len(want) > 0
    pd.testing.assert_frame_equal(got[["goal_id", "team_id", "status", "actual", "target"]].reset_index(drop=True),
                                  want, check_dtype=False)
    for s in ("on_track", "at_risk", "off_track", "no_data"):
        assert metric(at, s.replace("_", " ")) == str(int((want.status == s).sum()))


def test_data_health_in_demo_mode_and_withheld_from_a_scope(w, viewer_env):
    viewer_env(demo=True)
    at = page("views/health.py")
    got = frame(at, "integration_health")
    want = W.full(w, "select source_name, resource_name, status from marts.integration_health order by 1, 2")
    assert len(want) > 0 and got[["source_name", "resource_name", "status"]].values.tolist() == want.values.tolist()
    assert "demo: whole account" in texts(at)


# --------------------------------------------------------------------------- access control
@pytest.mark.parametrize("name", PAGES)
def test_a_managers_pages_hold_no_team_outside_its_scope(w, viewer_env, name):
    viewer_env(MANAGER)
    at = page(name, {"from": "2025-01-01", "to": "2027-01-01"})
    inside = W.subtree(w, "reporting", MANAGER_TEAM)
    teams = W.full(w, "select tree, team_id, name from marts.dim_team")
    outside = teams[~((teams.tree == "reporting") & teams.team_id.isin(inside))]
    services = W.full(w, "select service, owning_team_id from marts.dim_service")
    other_services = set(services[~services.owning_team_id.isin(inside)].service)
    shown = texts(at)
    # a sprint is named after its board (often another team's): elena's rows of it are hers
    for sprint in W.full(w, "select distinct sprint_name from marts.sprint_metrics where tree = 'reporting' and "
                            "team_id in (select unnest(?::varchar[]))", [sorted(inside)]).sprint_name:
        shown = shown.replace(sprint, "")
    for n in outside.name:
        assert n not in shown, f"{name} shows the team {n!r} outside elena's scope"
    frames = [d.value for d in at.dataframe]
    keys = [b.key for b in at.download_button]
    # her authors' changes, wherever they shipped: the policy publishes them to her (the people
    # bridge), service names included; every other table holds only her services
    authors_changes = frame(at, "dora_lead_time_changes") if "dl_dora_lead_time_changes" in keys else None
    if authors_changes is not None:
        theirs = W.full(w, "select distinct pull_request_id from marts.bridge_pull_request_team where tree = "
                           "'reporting' and team_id in (select unnest(?::varchar[]))", [sorted(inside)])
        assert set(authors_changes.pull_request_id) <= set(theirs.pull_request_id)
    for key, f in zip(keys, frames):
        for col in ("team_id", "author_team_id"):
            if col in f:
                assert set(f[col].dropna()) <= inside, (name, col, set(f[col].dropna()) - inside)
        if "service" in f and key != "dl_dora_lead_time_changes":
            assert not set(f.service.dropna()) & other_services, (name, set(f.service.dropna()) & other_services)
    team_box = [sb for sb in at.selectbox if sb.label == "Team"]
    assert team_box or name == "views/health.py"
    assert not team_box or set(team_box[0].options) <= {f"{n} ({t})" for t, n in zip(teams.team_id, teams.name)
                                                     if t in inside}
    if name != "views/health.py":
        assert frames, f"{name} shows elena some rows: the check is not vacuous"


def test_no_viewer_no_data(w, viewer_env):
    viewer_env()
    at = page("views/dora.py")
    assert len(at.error) == 1 and "sei dashboards --principal P" in at.error[0].value
    assert not at.dataframe and not at.metric


def test_a_principal_without_a_scope_file_is_told_the_fix(w, viewer_env):
    viewer_env("nobody")
    at = page("views/dora.py")
    assert len(at.error) == 1 and "'nobody' has no scope file" in at.error[0].value
    assert "sei publish --scopes" in at.error[0].value and not at.dataframe


def test_oidc_login_maps_the_email_to_its_principal(w, viewer_env):
    viewer_env()
    secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x",
                        "client_id": "c", "client_secret": "s",
                        "server_metadata_url": "https://idp.example/.well-known/openid-configuration"},
               "sei": {"principals": {"elena@acme.example": "elena"}}}
    at = page("views/dora.py", secrets=secrets, user={"is_logged_in": False})
    assert [b.label for b in at.button] == ["Log in"] and not at.dataframe
    at = page("views/dora.py", secrets=secrets, user={"is_logged_in": True, "email": "Elena@ACME.example"})
    assert "principal elena" in texts(at)
    assert [sb.options for sb in at.selectbox if sb.label == "Team"] == [["Team Atlas (T002)"]]
    at = page("views/dora.py", secrets=secrets, user={"is_logged_in": True, "email": "mallory@evil.example"})
    assert len(at.error) == 1 and "not mapped to a principal" in at.error[0].value and not at.dataframe


def test_principal_for_email():
    from dashboards.data import principal_for_email
    m = {"Elena@Acme.example": "elena", "*@partner.example": "payments-viewers"}
    assert principal_for_email("elena@acme.EXAMPLE", m) == "elena"
    assert principal_for_email(" bob@partner.example ", m) == "payments-viewers"
    assert principal_for_email("bob@acme.example", m) is None
    assert principal_for_email("bob@evil.example@partner.example", {"bob@evil.example": "leo"}) is None
    assert principal_for_email(None, m) is None and principal_for_email("elena@acme.example", {}) is None


def test_demo_mode_needs_the_demo(tmp_path, monkeypatch):
    from dashboards.data import AccessError, demo_viewer
    monkeypatch.setenv("SEI_WAREHOUSE", str(tmp_path / "sei.duckdb"))
    with pytest.raises(AccessError, match="only runs over a warehouse `sei demo` built"):
        demo_viewer()


# --------------------------------------------------------------------------- the command
def _sei(w, *args, env=None):
    e = {**os.environ, **W.env(w), **(env or {})}
    e.pop("SEI_DASHBOARD_PRINCIPAL", None)
    return subprocess.run([str(Path(sys.executable).parent / "sei"), "dashboards", *args], capture_output=True,
                          text=True, env=e, cwd=w["root"], timeout=120)


def test_sei_dashboards_refuses_without_a_viewer(w):
    r = _sei(w)
    assert r.returncode == 1 and "no viewer" in r.stderr and "--principal" in r.stderr
    r = _sei(w, "--principal", "nobody")
    assert r.returncode == 1 and "SEI_RBAC_POLICY=<policy file> sei publish --scopes" in r.stderr
    r = _sei(w, "--principal", "elena", env={"SEI_SCOPES_DIR": str(w["root"] / "no-scopes")})
    assert r.returncode == 1 and "manifest.json is missing" in r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = _sei(w, "--principal", "elena", "--port", str(s.getsockname()[1]))
    assert r.returncode == 2 and "Fix: pick another --port" in r.stderr


# --------------------------------------------------------------------------- quarters, statistics, partial periods
def serving_data(w):
    """The whole account's serving file read as the app reads it (demo mode's viewer)."""
    from dashboards.data import Data, Viewer
    return Data(Viewer(None, w["serving"], None, demo=True))


def quarter_of(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return pd.Timestamp(t.year, 3 * ((t.month - 1) // 3) + 1, 1)


def team_changes(w, teams: list[str]) -> pd.DataFrame:
    """Shipped changes of the teams' authors (the lead-time attribution), one row per PR."""
    return W.full(w, "select distinct c.pull_request_id, c.deployed_at, c.lead_time_hours from marts.fct_changes c "
                     "join marts.bridge_pull_request_team b on b.pull_request_id = c.pull_request_id "
                     "where b.tree = 'reporting' and b.team_id in (select unnest(?::varchar[]))", [sorted(teams)])


@pytest.mark.parametrize("mart,kind,checks", [
    ("dora_team_monthly", "changes", [("lead_time_hours", "lead_time_p50_hours", "median"),
                                      ("lead_time_hours", "lead_time_p90_hours", "p90"),
                                      ("deploy_hours", "deploy_p50_hours", "median")]),
    ("dora_team_monthly", "deployments", [("recovery_hours", "recovery_time_p50_hours", "median")]),
    ("productivity_team_monthly", "pull_requests", [("cycle_time_hours", "pr_cycle_time_p50_hours", "median"),
                                                    ("review_hours", "review_time_p90_hours", "p90"),
                                                    ("size_lines", "pr_size_p50_lines", "median")]),
])
def test_row_level_statistics_reproduce_what_the_marts_hold(w, mart, kind, checks):
    """The row-level path (a quarter's median, a mean, p95) applied where the marts hold the
    figure gives the marts' own values for every team and month: same rows, same attribution."""
    import numpy as np

    from dashboards import stats
    d = serving_data(w)
    period = "month_start" if mart.startswith("productivity") else "period_start"
    months = W.full(w, f"select * from marts.{mart} where tree = 'reporting' order by team_id, includes_subteams, "
                       f"{period}")
    compared = 0
    for (team, sub), m in months.groupby(["team_id", "includes_subteams"]):
        teams = sorted(W.subtree(w, "reporting", team)) if sub else [team]
        expected = m.set_index(pd.to_datetime(m[period]))[stats.KINDS[kind][1]]
        for statistic in {c[2] for c in checks}:
            got = stats.exact(d, kind, "month", statistic, "reporting", teams, m[period].min(),
                              (pd.Timestamp(m[period].max()) + pd.DateOffset(months=1) - pd.Timedelta(days=1)).date(),
                              expected)
            assert not got.withheld, got.withheld
            for col, mart_col, s in checks:
                if s == statistic:
                    assert np.allclose(got.values[col].to_numpy(float), m[mart_col].to_numpy(float), rtol=1e-9,
                                       equal_nan=True), (team, sub, mart_col)
                    compared += int(m[mart_col].notna().sum())
    assert compared > 50


def test_dora_by_quarter_equals_the_rows_behind_it(w, viewer_env):
    """A quarter: counts summed from its months, rates of the sums, the p95 lead time and
    recovery time from the rows, all equal to an independent computation on the whole account."""
    viewer_env("leo")
    at = page("views/dora.py", {"tree": "reporting", "team": "T001", "sub": "1", "grain": "quarter", "stat": "p95",
                                "from": "2025-01-01"})
    periods = frame(at, "dora_periods")
    spine_end = W.full(w, "select max(period_start) p from marts.dora_team_monthly").p.iloc[0]
    last_q = quarter_of(spine_end) - pd.DateOffset(months=3)          # the last complete quarter
    row = periods.iloc[-1]
    assert pd.Timestamp(row.period_start) == last_q and not row.partial and not periods.partial.any()
    months = W.full(w, "select * from marts.dora_team_monthly where tree = 'reporting' and team_id = 'T001' and "
                       "includes_subteams and period_start >= ? and period_start < ?",
                    [last_q, last_q + pd.DateOffset(months=3)])
    assert len(months) == 3
    assert row.deployments == months.deployments.sum() > 0
    assert row.deployments_per_week == pytest.approx(months.deployments.sum() * 7 / months.period_days.sum(), rel=1e-12)
    assert row.change_failure_rate == pytest.approx(months.failed_deployments.sum() /
                                                    months.production_deployments.sum(), rel=1e-12)
    teams = sorted(W.subtree(w, "reporting", "T001"))
    chg = team_changes(w, teams)
    chg = chg[(chg.deployed_at >= last_q) & (chg.deployed_at < last_q + pd.DateOffset(months=3))]
    assert len(chg) == months.changes.sum() > 0
    assert row.lead_time == pytest.approx(chg.lead_time_hours.quantile(0.95), rel=1e-9)
    dep = W.full(w, "select recovery_hours from marts.fct_deployments where is_production and is_finished and "
                    "service is not null and is_failure and owning_tree = 'reporting' and team_id in "
                    "(select unnest(?::varchar[])) and finished_at >= ? and finished_at < ?",
                 [teams, last_q, last_q + pd.DateOffset(months=3)])
    want = dep.recovery_hours.quantile(0.95)
    assert (pd.isna(row.recovery_time) and pd.isna(want)) or row.recovery_time == pytest.approx(want, rel=1e-9)
    assert metric(at, "Lead time for changes (p95)") == __import__("dashboards.ui", fromlist=["x"]).fmt_hours(
        chg.lead_time_hours.quantile(0.95))
    assert not at.warning


def test_a_months_mean_lead_time_is_the_mean_of_its_changes(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/dora.py", {"stat": "mean"})
    row = frame(at, "dora_periods").iloc[-1]
    start = pd.Timestamp(row.period_start)
    chg = team_changes(w, sorted(W.subtree(w, "reporting", MANAGER_TEAM)))
    chg = chg[(chg.deployed_at >= start) & (chg.deployed_at < start + pd.DateOffset(months=1))]
    assert len(chg) > 0 and row.lead_time == pytest.approx(chg.lead_time_hours.mean(), rel=1e-9)
    assert "Lead time for changes (mean)" in [m.label for m in at.metric]


def test_a_statistic_is_withheld_when_the_scope_lacks_some_of_its_rows(w):
    """elena's scope file does not hold Team Comet's changes (their authors are outside her
    subtree), while the mart counts them: asked for Comet's quarter median from her file, the
    answer is withheld with the reason, never a median of the rows she happens to see."""
    from dashboards import stats
    from dashboards.data import Data, scope_viewer
    d = Data(scope_viewer(MANAGER, w["scopes"]))
    months = W.full(w, "select period_start, changes from marts.dora_team_monthly where tree = 'reporting' and "
                       "team_id = 'T004' and not includes_subteams order by 1")
    q = months.assign(q=[quarter_of(p) for p in months.period_start]).groupby("q").changes.sum()
    got = stats.exact(d, "changes", "quarter", "median", "reporting", ["T004"], months.period_start.min(),
                      (pd.Timestamp(months.period_start.max()) + pd.DateOffset(months=1) - pd.Timedelta(days=1)).date(),
                      q)
    seen = d.sql("select count(*) n from marts.fct_changes c join marts.bridge_pull_request_team b on "
                 "b.pull_request_id = c.pull_request_id where b.tree = 'reporting' and b.team_id = 'T004'").n.iloc[0]
    assert seen < q.sum(), "her file holds fewer of Comet's changes than the mart counts"
    assert got.withheld and got.values.loc[got.values.period_start.isin(list(got.withheld)), "lead_time_hours"].isna().all()
    assert "outside your scope" in got.reason()
    complete = got.values[~got.values.period_start.isin(list(got.withheld))]
    assert set(complete.period_start) == {p for p, n in q.items() if n == 0}   # only quarters without changes


def test_the_partial_period_is_excluded_by_default_and_marked_when_included(w, viewer_env):
    viewer_env(MANAGER)
    spine_end = W.full(w, "select max(period_start) p from marts.dora_team_monthly").p.iloc[0]
    at = page("views/dora.py")
    periods = frame(at, "dora_periods")
    assert pd.Timestamp(periods.period_start.max()) < pd.Timestamp(spine_end) and not periods.partial.any()
    assert any("(complete)" in c.value for c in at.caption)
    at = page("views/dora.py", {"partial": "1"})
    periods = frame(at, "dora_periods")
    assert pd.Timestamp(periods.period_start.iloc[-1]) == pd.Timestamp(spine_end) and periods.partial.iloc[-1]
    assert periods.partial.sum() == 1
    assert any(f"the month starting {spine_end:%Y-%m-%d} is partial" in c.value for c in at.caption)
    at = page("views/productivity.py", {"grain": "week"})
    weeks = frame(at, "productivity")
    spine_week = W.full(w, "select max(week_start) p from marts.productivity_team_weekly").p.iloc[0]
    assert pd.Timestamp(weeks.period_start.max()) < pd.Timestamp(spine_week) and not weeks.partial.any()


def test_drill_downs_link_to_their_sources(w, viewer_env):
    viewer_env("leo")
    at = page("views/dora.py", {"tree": "reporting", "team": "T000", "from": "2025-01-01", "partial": "1"})
    deps = frame(at, "dora_deployments")
    want = W.full(w, "select deployment_id, source, source_url from marts.fct_deployments where is_production")
    got = deps.merge(want, on="deployment_id", suffixes=("", "_mart"))
    assert len(got) == len(deps) > 0
    assert (got.source_url.fillna("") == got.source_url_mart.fillna("")).all()
    assert got[got.source == "harness"].source_url.str.contains("/executions/").all()
    assert got[got.source == "harness"].source_url.notna().sum() > 0
    inc = frame(at, "dora_incidents")
    want = W.full(w, "select i.incident_id, i.source_url, d.source_url as deployment_url from marts.fct_incidents i "
                     "left join marts.fct_deployments d on d.deployment_id = i.caused_by_deployment_id")
    got = inc.merge(want, on="incident_id", suffixes=("", "_mart"))
    assert len(got) == len(inc) > 0 and got.source_url.notna().all()
    assert (got.source_url == got.source_url_mart).all()
    assert (got.deployment_url.fillna("") == got.deployment_url_mart.fillna("")).all()
    assert got.deployment_url.notna().any()
    chg = frame(at, "dora_changes")
    assert chg.pull_request_url.str.contains(r"/pull/\d+$").all() and chg.deployment_url.notna().any()


def test_alignment_by_quarter_and_the_issues_of_a_category(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/alignment.py", {"grain": "quarter", "from": "2025-01-01"})
    got = frame(at, "alignment")
    months = W.full(w, "select month_start, category, effort, completed_issues from marts.alignment_team_monthly "
                       "where tree = 'reporting' and team_id = ? and includes_subteams and month_start < "
                       "(select max(month_start) from marts.alignment_team_monthly)", [MANAGER_TEAM])
    months["q"] = [quarter_of(m) for m in months.month_start]
    months = months[months.q < quarter_of(months.month_start.max() + pd.DateOffset(months=1))]   # whole quarters
    want = months.groupby(["q", "category"], as_index=False)[["effort", "completed_issues"]].sum()
    want["share"] = want.effort / want.groupby("q").effort.transform("sum")
    mine = got.assign(q=pd.to_datetime(got.period_start)).merge(want, on=["q", "category"], suffixes=("", "_w"))
    assert len(mine) == len(got) > 0 and len(want[want.q >= pd.Timestamp(got.period_start.min())]) == len(got)
    assert (mine.effort == mine.effort_w).all()
    assert ((mine.effort_share - mine.share).abs().fillna(0) < 1e-12).all()
    # the issues of the selected category are the ones the monthly mart counts
    issues = frame(at, "alignment_issues")
    cat = next(sb.value for sb in at.selectbox if sb.label == "Category")
    per_month = issues.groupby(pd.to_datetime(issues.month_start)).issue_key.count()
    counted = W.full(w, "select month_start, completed_issues from marts.alignment_team_monthly where tree = "
                        "'reporting' and team_id = ? and includes_subteams and category = ? and completed_issues > 0 "
                        "and month_start >= ? and month_start <= ?",
                     [MANAGER_TEAM, cat, pd.Timestamp(got.period_start.min()),
                      pd.Timestamp(got.period_start.max()) + pd.DateOffset(months=2)])
    assert len(counted) > 0
    assert dict(per_month) == dict(zip(pd.to_datetime(counted.month_start), counted.completed_issues))
    inside = W.subtree(w, "reporting", MANAGER_TEAM)
    theirs = W.full(w, "select distinct i.issue_key from marts.fct_alignment_issues i join marts.bridge_issue_team b "
                       "on b.issue_id = i.issue_id where b.tree = 'reporting' and b.team_id in "
                       "(select unnest(?::varchar[]))", [sorted(inside)])
    assert set(issues.issue_key) <= set(theirs.issue_key)
    assert issues.source_url.str.contains(r"/browse/").all()


def test_productivity_by_quarter_from_the_pull_requests(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/productivity.py", {"grain": "quarter", "stat": "p95", "from": "2025-01-01"})
    row = frame(at, "productivity").iloc[-1]
    q = pd.Timestamp(row.period_start)
    prs = W.full(w, "select distinct p.pull_request_id, p.cycle_time_hours, p.time_to_first_review_hours from "
                    "marts.fct_pull_requests p join marts.bridge_pull_request_team b on b.pull_request_id = "
                    "p.pull_request_id where p.is_merged and not p.is_bot_author and b.tree = 'reporting' and "
                    "b.team_id in (select unnest(?::varchar[])) and p.merged_at >= ? and p.merged_at < ?",
                 [sorted(W.subtree(w, "reporting", MANAGER_TEAM)), q, q + pd.DateOffset(months=3)])
    assert row.merged_prs == len(prs) > 0
    assert row.pr_cycle_time == pytest.approx(prs.cycle_time_hours.quantile(0.95), rel=1e-9)
    assert row.time_to_first_review == pytest.approx(prs.time_to_first_review_hours.quantile(0.95), rel=1e-9)
    assert pd.isna(row.merged_prs_per_developer) and metric(at, "Merged PRs per developer") == "–"
    assert any("Per-developer figures by quarter are not shown" in c.value for c in at.caption)


def test_goals_show_their_last_complete_period_by_default(w, viewer_env):
    """The goal marts' latest period is the one the data ends inside (or after it): by
    default each goal shows its last period before the productivity spine's last one."""
    viewer_env("leo")
    at = page("views/goals.py", {"tree": "reporting", "team": "T000"})
    got = frame(at, "goals")
    rows = W.full(w, "select goal_id, team_id, include_subteams, period, period_start, status, actual, target "
                     "from marts.goal_status where tree = 'reporting' and team_id in (select team_id from "
                     "marts.dim_team where tree = 'reporting')")
    horizon = {"month": W.full(w, "select max(month_start) p from marts.productivity_team_monthly").p.iloc[0],
               "week": W.full(w, "select max(week_start) p from marts.productivity_team_weekly").p.iloc[0]}
    done = rows[[pd.Timestamp(s) < pd.Timestamp(horizon[g]) for g, s in zip(rows.period, rows.period_start)]]
    want = done.sort_values("period_start").groupby(["goal_id", "team_id", "include_subteams"]).tail(1) \
        .sort_values(["team_id", "goal_id"]).reset_index(drop=True)
    assert len(want) > 0 and not got.partial.any()
    pd.testing.assert_frame_equal(got[["goal_id", "team_id", "period_start", "status", "actual", "target"]]
                                  .reset_index(drop=True),
                                  want[["goal_id", "team_id", "period_start", "status", "actual", "target"]],
                                  check_dtype=False)
    assert (want.status != "no_data").any(), "complete periods have values the partial one lacks"


def test_the_changes_behind_the_lead_time_are_the_ones_the_mart_counts(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/dora.py", {"grain": "quarter"})
    periods = frame(at, "dora_periods")
    lead = frame(at, "dora_lead_time_changes")
    assert len(lead) == periods.changes.sum() > 0 and lead.pull_request_id.is_unique
    last = pd.Timestamp(periods.period_start.iloc[-1])
    in_last = lead[pd.to_datetime(lead.deployed_at) >= last]
    assert periods.lead_time.iloc[-1] == pytest.approx(in_last.lead_time_hours.median(), rel=1e-9)
    assert lead.pull_request_url.str.contains(r"/pull/\d+$").all()


def test_rows_behind_the_figures_can_be_left_out_and_goals_empty_state(w, viewer_env):
    viewer_env("leo")
    at = page("views/dora.py", {"tree": "reporting", "team": "T000", "rows": "0"})
    keys = [b.key for b in at.download_button]
    assert "dl_dora_periods" in keys and not [k for k in keys if k in ("dl_dora_deployments", "dl_dora_changes",
                                                                        "dl_dora_lead_time_changes",
                                                                        "dl_dora_incidents")]
    assert any("List the rows behind the figures" in i.value for i in at.info)
    at = page("views/goals.py", {"tree": "reporting", "team": "T000", "sub": "0"})
    assert any("No goal is set for Engineering (T000)" in i.value for i in at.info) and not at.dataframe


def test_sprints_still_open_are_left_out_by_default(w, viewer_env):
    viewer_env(MANAGER)
    at = page("views/sprints.py", {"from": "2025-01-01", "to": "2027-01-01"})
    got = frame(at, "sprints")
    want = W.full(w, "select sprint_id, sprint_name, delivered_points from marts.sprint_metrics where tree = "
                     "'reporting' and team_id = ? and is_sprint_closed order by sprint_started_at, sprint_id",
                  [MANAGER_TEAM])
    opened = W.full(w, "select count(*) n from marts.sprint_metrics where tree = 'reporting' and team_id = ? and "
                       "not is_sprint_closed", [MANAGER_TEAM]).n.iloc[0]
    assert opened > 0 and list(got.sprint_id) == list(want.sprint_id) and got.is_sprint_closed.all()
    assert number(metric(at, "Completed (points)")) == pytest.approx(want.delivered_points.fillna(0).iloc[-1])
    assert any(f"closed sprint in range, {want.sprint_name.iloc[-1]}" in c.value for c in at.caption)
