"""The generator: deterministic, realistic enough that every downstream number means
something, and consistent with the ground truth it exports."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from simulator import generate
from simulator.faults import FaultSpec
from simulator.truth import TRUTH_TABLES, truth_frame


def _digest(w) -> str:
    h = hashlib.sha256()
    for name in sorted(w.t):
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(w.t[name].astype(str), index=True).values.tobytes())
    return h.hexdigest()


def test_same_seed_same_world_other_seed_other_world(tiny_world):
    assert _digest(generate("tiny", seed=7)) == _digest(tiny_world)
    assert _digest(generate("tiny", seed=8)) != _digest(tiny_world)


def test_unknown_size_is_refused():
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        generate("huge")


def test_org_shape(tiny_world):
    w = tiny_world
    teams = w["teams"]
    leaf = teams[teams.profile.notna()]
    assert set(leaf.profile) == {"elite", "high", "medium", "low"}  # every band has a team
    assert teams.level.max() >= 2 and teams.parent_team_id.isna().sum() == 1  # a tree with one root
    eng = w["developers"][w["developers"].role == "engineer"]
    assert 9 <= len(eng) <= 11
    mem = w["memberships"]
    moved = mem[mem.primary].groupby("dev_id").team_id.nunique()
    assert (moved > 1).any(), "somebody changes team during the history"
    assert (~mem.primary).any(), "somebody belongs to two teams at once"
    acc = w["tool_accounts"]
    assert acc.is_bot.any()
    assert acc[acc.tool == "github"].login.is_unique


def test_activity_has_the_cases_metrics_must_handle():
    w = generate("small", seed=3)
    prs = w["prs"]
    assert set(prs.kind) == {"feature", "bot", "revert", "hotfix"}
    assert prs.is_draft_start.any()
    secondary = w["tool_accounts"].query("kind == 'secondary'")
    assert len(secondary) and prs.author_login.isin(secondary.login).any(), "people with two accounts use both"
    assert set(w["repos"].merge_method) == {"squash", "merge"}
    d = w["deployments"]
    prod = d[d.environment == "production"]
    assert (prod.status == "failure").any() and prod.is_rollback.any() and prod.is_hotfix.any()
    assert set(prod.cause.dropna()) == {"failed", "rolled_back", "incident"}
    # Re-deploying the version already live happens and is neither a change nor a failure.
    redeploy = prod.sha.eq(prod.groupby("service_id").sha.shift()) & ~prod.is_rollback
    assert redeploy.any()
    inc = w["incidents"]
    assert inc.caused_by.notna().any() and inc.caused_by.isna().any()
    assert set(w["services"].deploy_tool) == {"harness", "github", "jenkins"}
    # Causes happen before effects.
    caused = inc.dropna(subset=["caused_by"])
    fin = d.set_index("deployment_id").finished_at
    assert (caused.opened_at.to_numpy() > fin[caused.caused_by.astype(int)].to_numpy()).all()
    assert (prs.merged_at[prs.merged_at >= 0] >= prs.created_at[prs.merged_at >= 0]).all()
    rv = w["reviews"]
    first_rev = rv.groupby("pr_ix").submitted_at.min()
    assert (first_rev >= prs.created_at[first_rev.index]).all()


def test_bands_differ_between_team_profiles():
    """Deployment frequency, lead time and failure rate separate by team practice, in the
    order the DORA bands expect (elite best, low worst)."""
    w = generate("small", seed=1)
    d = truth_frame(w, "deployments")
    prod = d[d.environment == "production"].merge(w["services"][["service_id", "profile"]], on="service_id")
    weeks = (w.now - w.start) / (7 * 86400)
    ok = prod[prod.status == "success"].groupby("profile").size() / prod.groupby("profile").service_id.nunique() / weeks
    failed = (prod.status == "failure") | prod.cause.isin(["rolled_back", "incident"])
    cfr = failed.groupby(prod.profile).mean()
    order = ["elite", "high", "medium", "low"]
    assert list(ok[order].rank(ascending=False)) == [1, 2, 3, 4]
    assert list(cfr[order].rank()) == [1, 2, 3, 4]
    assert ok["elite"] > 5 and ok["low"] < 1  # deploys per service and week
    assert cfr["elite"] < 0.06 and cfr["low"] > 0.3


def test_truth_change_sets_follow_first_parent_history(tiny_world):
    w = tiny_world
    ch = truth_frame(w, "deployment_changes")
    dep = truth_frame(w, "deployments").set_index("deployment_id")
    base = ch[ch.is_baseline]
    assert base.service_id.is_unique  # one baseline per service
    shipped = ch[~ch.is_baseline]
    mc = w["main_commits"].set_index("sha")
    # Every shipped commit is on the service's repository, at or before the deployed commit.
    for r in shipped.sample(min(200, len(shipped)), random_state=1).itertuples():
        deployed = mc.loc[dep.sha[r.deployment_id]]
        assert mc.repo_id[r.sha] == deployed.repo_id
        assert mc.seq[r.sha] <= deployed.seq
        assert mc.authored_at[r.sha] <= pd.Timestamp(dep.finished_at[r.deployment_id]).timestamp()


def test_every_truth_table_exports(tiny_world, tmp_path):
    from simulator.truth import export
    paths = export(tiny_world, tmp_path)
    assert [p.stem for p in paths] == list(TRUTH_TABLES)
    for p in paths:
        assert len(pd.read_csv(p)) > 0, p


def test_clock_reveals_new_and_updated_records():
    from simulator import views
    w = generate("tiny", seed=7)
    before = views.pull_requests(w)
    with pytest.raises(ValueError, match="cannot advance past"):
        w.advance(24 * 365)
    w.advance(72)
    after = views.pull_requests(w)
    assert len(after) > len(before)
    common = before.index
    changed = after.loc[common, "updated_at"] > before.updated_at
    assert changed.any()
    assert (after.loc[common, "updated_at"] >= before.updated_at).all()
    newly_merged = (before.state != "MERGED") & (after.loc[common, "state"] == "MERGED")
    assert newly_merged.any()


def test_fault_choice_is_deterministic_and_at_the_configured_rates():
    spec = FaultSpec.parse("429:0.05,500:0.02,reset:0.01,slow:0.05,secondary:0.01")
    rng = np.random.default_rng(0)
    digests = [rng.bytes(32) for _ in range(20000)]
    picks = [spec.pick("github", d, 0) for d in digests]
    again = [spec.pick("github", d, 0) for d in digests]
    assert picks == again
    counts = pd.Series(picks).value_counts()
    for kind, rate in [("429", 0.05), ("500", 0.02), ("reset", 0.01), ("slow", 0.05), ("secondary", 0.01)]:
        assert abs(counts.get(kind, 0) / len(digests) - rate) < 0.25 * rate + 0.002, kind
    # A retry of the same request is a new draw: most failed requests succeed next time.
    failed = [d for d, p in zip(digests, picks) if p]
    assert sum(spec.pick("github", d, 1) is None for d in failed) / len(failed) > 0.8
    # Outside GitHub the secondary limit is a plain 429.
    assert "secondary" not in {spec.pick("jira", d, 0) for d in digests}


@pytest.mark.parametrize("bad, message", [("429", "write kind:rate"), ("boom:0.1", "unknown kind"),
                                          ("500:2", "between 0 and 1"), ("gitlab.500:0.1", "unknown API"),
                                          ("500:0.6,429:0.6", "more than 1")])
def test_bad_fault_specs_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        FaultSpec.parse(bad)
