"""DORA marts end to end on the tiny simulated org: GitHub, Jira, Harness and the events
files synced over HTTP by the real connectors, the org imported, identities resolved, the
shipped profiles applied, then `dbt build` of the DORA marts and everything they need.

The marts must equal an independent pandas computation of the documented rules
(tests/dora_reference.py) from the raw tables and the org files, per service and month and
per team and month (alone and with sub-teams). The test also prints how often the incident
attribution rule agrees with the simulator's true causes (a different question: the rule is
a heuristic; the simulator knows), and checks that a profile change moves the figures.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dora_reference as ref
from test_dbt_staging import dbt, query

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

MARTS = ("fct_deployments", "fct_deployment_changes", "fct_changes", "fct_incidents", "dora_service_weekly",
         "dora_service_monthly", "dora_team_weekly", "dora_team_monthly", "bridge_deployment_team",
         "bridge_incident_team")


@pytest.fixture(scope="module")
def built():
    return ref.dora_warehouse()


@pytest.fixture(scope="module")
def reference(built):
    ids = built["truth"]["identities"]
    return ref.compute(built["db"], built["tmp"] / "org", ids[ids.tool == "github"])


def marts(built, sql: str) -> pd.DataFrame:
    return query(built["db"], sql)


def close(a, b) -> bool:
    a = None if a is None or (isinstance(a, float) and np.isnan(a)) or a is pd.NA else float(a)
    b = None if b is None or (isinstance(b, float) and np.isnan(b)) or b is pd.NA else float(b)
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6)


def compare(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], cols: list[str]) -> list:
    """Rows where the mart and the reference differ (periods the reference has no data for
    must be all zeros / nulls in the mart)."""
    m = got.merge(want, on=keys, how="left", suffixes=("", "_want"), indicator=True)
    bad = []
    for r in m.to_dict("records"):
        for c in cols:
            w = r.get(f"{c}_want")
            if r["_merge"] == "left_only":
                w = 0 if c in ("deployments", "deployment_days", "production_deployments", "failed_deployments",
                               "changes") else None
            if not close(r[c], w):
                bad.append({**{k: r[k] for k in keys}, "column": c, "mart": r[c], "reference": w})
    return bad


def test_build_passes_with_contracts_unit_tests_and_data_tests(built):
    b = built["build"]
    assert b.returncode == 0, b.stdout[-4000:]
    r = built["results"]
    assert (r.status.isin(["success", "pass"])).all(), r[~r.status.isin(["success", "pass"])]
    for m in MARTS:
        assert f"model.sei.{m}" in set(r.id), m
    units = r[r.id.str.startswith("unit_test.sei.")]
    assert len(units) >= 9, units
    contracts = marts(built, "select count(*) as n from information_schema.tables where table_schema = 'marts' "
                             "and (table_name like 'dora_%' or table_name like 'fct_%')").n[0]
    assert contracts >= 8


def test_deployments_and_failures_equal_the_reference(built, reference):
    want = reference["deployments"].set_index("deployment_id")
    got = marts(built, "select deployment_id, is_baseline, is_redeploy, is_rollback, is_hotfix, failure_reason, "
                       "recovery_hours from marts.fct_deployments where is_production and is_finished")
    got = got.set_index("deployment_id")
    assert set(got.index) == set(want.index)
    assert len(got) > 300
    for col, wcol in (("is_baseline", "baseline"), ("is_redeploy", "redeploy"), ("is_rollback", "rollback"),
                      ("is_hotfix", "hotfix")):
        diff = got[col].astype(bool) != want.loc[got.index, wcol].astype(bool)
        assert not diff.any(), (col, got[diff].head())
    reason = got.failure_reason.fillna("-") != want.loc[got.index, "failure_reason"].fillna("-")
    assert not reason.any(), got[reason].join(want[["failure_reason"]], rsuffix="_want").head()
    rec = [close(a, b) for a, b in zip(got.recovery_hours, want.loc[got.index, "recovery_hours"])]
    assert all(rec)
    print("\nproduction deployments by failure reason:",
          got.failure_reason.fillna("none").value_counts().to_dict(),
          f"baselines {int(got.is_baseline.sum())}, re-deploys {int(got.is_redeploy.sum())}, "
          f"rollbacks {int(got.is_rollback.sum())}, hotfixes {int(got.is_hotfix.sum())}")
    assert got.failure_reason.nunique() >= 3


def test_changes_equal_the_reference(built, reference):
    want = reference["changes"].set_index("pull_request_id")
    got = marts(built, "select pull_request_id, deployment_id, lead_time_hours from marts.fct_changes")
    got = got.set_index("pull_request_id")
    assert set(got.index) == set(want.index)
    assert (got.deployment_id == want.loc[got.index, "deployment_id"]).all()
    assert all(close(a, b) for a, b in zip(got.lead_time_hours, want.loc[got.index, "lead_time_hours"]))
    # every PR shipped once: at its first production deployment
    dup = marts(built, "select count(*) - count(distinct pull_request_id) as n from marts.fct_changes").n[0]
    assert dup == 0


def test_service_monthly_equals_the_reference(built, reference):
    d = reference["deployments"]
    want = ref.metrics(d, reference["changes"], ["service"], "month")
    got = marts(built, "select * from marts.dora_service_monthly")
    got["period_start"] = pd.to_datetime(got.period_start).dt.date
    cols = ["deployments", "deployment_days", "production_deployments", "failed_deployments", "change_failure_rate",
            "recovery_time_p50_hours", "rework_rate", "changes", "lead_time_p50_hours", "lead_time_p90_hours"]
    bad = compare(got, want, ["service", "period_start"], cols)
    assert not bad, pd.DataFrame(bad).head(20)
    # a row for every service and month of the spine
    services = reference["services"].service.nunique()
    months = got.period_start.nunique()
    assert len(got) == services * months and months >= 12
    assert set(want.set_index(["service", "period_start"]).index) <= set(got.set_index(["service", "period_start"]).index)
    print(f"\nservice x month: {len(got)} rows, {len(bad)} differences from the reference")


def test_service_weekly_equals_the_reference(built, reference):
    want = ref.metrics(reference["deployments"], reference["changes"], ["service"], "week")
    got = marts(built, "select * from marts.dora_service_weekly")
    got["period_start"] = pd.to_datetime(got.period_start).dt.date
    assert all(pd.Timestamp(p).weekday() == 0 for p in got.period_start.unique())
    bad = compare(got, want, ["service", "period_start"], ["deployments", "failed_deployments", "changes",
                                                           "lead_time_p50_hours", "deployment_days"])
    assert not bad, pd.DataFrame(bad).head(20)


def test_team_monthly_equals_the_reference_alone_and_with_subteams(built, reference):
    services = reference["services"]
    teams = built["truth"]["teams"]
    subtree = ref.subtree_teams(teams)
    d = reference["deployments"].merge(services[["service", "owning_team_id"]], on="service")
    # lead time follows the PR author's team when the PR was opened
    ids = built["truth"]["identities"]
    gh = ids[ids.tool == "github"].assign(login=lambda x: x.login.str.lower())
    ch = reference["changes"].copy()
    ch["developer_id"] = ch.author_login.str.lower().map(gh.set_index("login").dev_id)
    mem = pd.read_csv(built["tmp"] / "org" / "memberships.csv", dtype=str)
    at = ref.team_of(mem, ch.developer_id.dropna(), ch.loc[ch.developer_id.notna(), "created_at"], "reporting")
    ch_team = ch.loc[at.ix].assign(team_id=at.team_id.to_numpy())
    rows = []
    for flag in (False, True):
        for team in teams.team_id:
            members = subtree[team] if flag else {team}
            dd = d[d.owning_team_id.isin(members)].drop_duplicates("deployment_id").assign(team_id=team)
            cc = ch_team[ch_team.team_id.isin(members)].drop_duplicates("pull_request_id").assign(team_id=team)
            if len(dd) or len(cc):
                m = ref.metrics(dd if len(dd) else d.iloc[:0].assign(team_id=team), cc, ["team_id"], "month")
                rows.append(m.assign(includes_subteams=flag))
    want = pd.concat(rows, ignore_index=True)
    got = marts(built, "select * from marts.dora_team_monthly where tree = 'reporting'")
    got["period_start"] = pd.to_datetime(got.period_start).dt.date
    cols = ["deployments", "production_deployments", "failed_deployments", "change_failure_rate",
            "recovery_time_p50_hours", "changes", "lead_time_p50_hours"]
    bad = compare(got, want, ["team_id", "includes_subteams", "period_start"], cols)
    assert not bad, pd.DataFrame(bad).head(20)
    root = got[(got.team_id == teams[teams.parent_team_id.isna()].team_id.iloc[0]) & got.includes_subteams]
    assert root.deployments.sum() == int(reference["deployments"].is_success.sum())
    print(f"\nteam x month (reporting tree): {len(got)} rows, {len(bad)} differences from the reference")


def test_incident_attribution_rule_equals_the_reference_and_agreement_with_true_causes(built, reference):
    got = marts(built, "select incident_id, caused_by_deployment_id from marts.fct_incidents")
    want = reference["incidents"].set_index("incident_id").caused_by
    got = got.set_index("incident_id")
    assert set(got.index) == set(want.index)
    assert (got.caused_by_deployment_id.fillna("-") == want.loc[got.index].fillna("-")).all()

    # the simulator's true causes, mapped to the warehouse's ids
    t, ti = built["truth"]["deployments"], built["truth"]["incidents"]
    svc = built["world"]["services"].set_index("service_id")
    ours = {}
    for r in t.itertuples():
        if r.tool == "harness":
            ours[r.deployment_id] = f"harness:{r.plan_execution_id}"
        elif r.tool == "github":
            ours[r.deployment_id] = f"github:{r.gh_deployment_id}"
        else:
            ours[r.deployment_id] = f"events:jenkins:deploy-{svc.name[r.service_id]}#{int(r.build_number)}"
    ti = ti.assign(incident_id=[f"jira:{k}" if isinstance(k, str) else f"events:pagerduty:PD-{i}"
                                for k, i in zip(ti.jira_key, ti.incident_id)])
    ti["true_cause"] = ti.caused_by_deployment_id.map(lambda x: None if pd.isna(x) else ours[int(x)])
    j = ti.drop(columns="caused_by_deployment_id").merge(got.reset_index(), on="incident_id")
    agree = (j.true_cause.fillna("-") == j.caused_by_deployment_id.fillna("-"))
    caused = j.true_cause.notna()
    print(f"\nincident attribution vs the simulator's true causes: {agree.sum()}/{len(j)} agree "
          f"({agree.mean():.0%}); caused incidents found {int((agree & caused).sum())}/{int(caused.sum())}, "
          f"uncaused left unblamed {int((agree & ~caused).sum())}/{int((~caused).sum())}")
    assert len(j) == len(ti) and len(j) >= 20
    assert agree.mean() >= 0.6


def test_bands_come_from_the_seed_and_every_mart_row_is_banded(built):
    b = marts(built, "select distinct deployment_frequency_band as band from marts.dora_service_monthly")
    assert set(b.band) <= {"elite", "high", "medium", "low"} and b.band.notna().all()
    seed = marts(built, "select report_year, count(distinct metric) as metrics from marts.dora_performance_bands "
                        "group by 1 order by 1")
    assert list(seed.report_year) == [2021, 2023, 2024] and (seed.metrics == 4).all()
    none = marts(built, "select count(*) as n from marts.dora_service_monthly where rework_rate_band is not null").n[0]
    assert none == 0  # DORA publishes no rework-rate band


def test_a_profile_change_moves_the_figures_without_code(built, tmp_path):
    """A 1-hour incident window blames fewer incidents; failed statuses off the list stop
    counting as failures. Rebuilt on a copy of the warehouse."""
    import shutil

    from core.profiles import apply_profiles
    db = tmp_path / "copy.duckdb"
    shutil.copy(built["db"], db)
    prof = tmp_path / "profiles"
    prof.mkdir()
    text = (Path(__file__).resolve().parents[1] / "profiles" / "efficiency.yml").read_text()
    text = text.replace("incident_window_hours: 24", "incident_window_hours: 1")
    (prof / "efficiency.yml").write_text(text)
    apply_profiles(db, prof)
    out = dbt(["build", "--select", "path:models/intermediate/dora", "path:models/marts/dora", "--indirect-selection", "cautious"], db, tmp_path / "target")
    assert out.returncode == 0, out.stdout[-3000:]
    before = marts(built, "select count(caused_by_deployment_id) as n, "
                          "count(case when hours_after_last_deployment <= 1 then 1 end) as within1 from marts.fct_incidents")
    after = query(db, "select count(caused_by_deployment_id) as n from marts.fct_incidents")
    assert after.n[0] == before.within1[0] < before.n[0]
