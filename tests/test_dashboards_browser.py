"""The dashboards in a real browser: `sei dashboards --principal elena` running on the tiny org
published with the example policy (tests/dashboards_world.py), every page loaded in Debian's
headless chromium through Playwright: no exception box, the key figures' text as the marts
hold them, a screenshot per page, and every visible CSV download holding no team outside
elena's subtree."""
from __future__ import annotations

import csv
import io
import shutil

import pytest

import dashboards_world as W

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dashboards")]

if not (shutil.which("chromium") or shutil.which("chromium-browser")):
    pytest.skip("needs Debian's chromium (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    from dashboards.screenshots import capture, running
    w = W.built()
    out = tmp_path_factory.mktemp("screenshots")
    with running(["--principal", "elena"], env=W.env(w), cwd=w["root"], log=out / "server.log") as url:
        got = {s.page: s for s in capture(url, out, downloads=True)}
    return w, got


def test_every_page_renders_without_exception(shots):
    from dashboards.screenshots import PAGES
    _, got = shots
    assert sorted(got) == sorted(PAGES)
    for name, s in got.items():
        assert not s.exceptions, (name, s.exceptions)
        assert "Data as of" in s.text and "principal elena" in s.text, name
        assert "Page not found" not in s.text, name     # every page at its own address, the default at the root
        assert s.png.stat().st_size > 20_000, f"{name}: the screenshot is (nearly) blank"


def test_key_figures_are_shown(shots):
    w, got = shots
    last = W.full(w, "select * from marts.dora_team_monthly where tree = 'reporting' and team_id = 'T002' and "
                     "includes_subteams and period_start < (select max(period_start) from marts.dora_team_monthly) "
                     "order by period_start desc limit 1").iloc[0]   # the last complete month
    assert f"{last.deployments_per_week:,.2f}" in got["dora"].text
    assert "Team Atlas (T002) with sub-teams" in got["dora"].text
    prod = W.full(w, "select * from marts.productivity_team_monthly where tree = 'reporting' and team_id = 'T002' "
                     "and includes_subteams and month_start < (select max(month_start) from "
                     "marts.productivity_team_monthly) order by month_start desc limit 1").iloc[0]
    assert f"Merged PRs\n{int(prod.merged_prs)}" in got["productivity"].text.replace("\n\n", "\n")
    assert "Integration health is not part of your published scope" in got["health"].text


def test_csv_downloads_hold_only_the_managers_teams(shots):
    w, got = shots
    inside = W.subtree(w, "reporting", "T002")
    seen = 0
    for name, s in got.items():
        for file, body in s.downloads.items():
            rows = list(csv.DictReader(io.StringIO(body)))
            seen += len(rows)
            for col in ("team_id", "author_team_id"):
                values = {r[col] for r in rows if r.get(col)}
                assert values <= inside, (name, file, col, values - inside)
    assert seen > 0, "the browser received CSV files"
    dora = got["dora"].downloads   # the tables of every tab, the drill-downs included
    assert {"dora_services.csv", "dora_deployments.csv", "dora_changes.csv", "dora_incidents.csv"} <= set(dora)
    assert "(outside your scope)" in dora["dora_changes.csv"]
