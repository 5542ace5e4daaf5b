"""Privacy on a real warehouse (tests/prod_warehouse.py): `sei org forget` leaves no trace of
the person's name, emails or logins in any column of any table (raw, org history, staging,
marts) nor in the published serving file, and team figures rebuilt from the scrubbed raw data
are identical; the per-person switches empty or thin productivity_developer_monthly; the
retention setting deletes old raw personal data."""
from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pytest

from prod_warehouse import build
from test_dbt_staging import dbt, query

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]
TEAM_MARTS = {"productivity_team_monthly": ["tree", "team_id", "includes_subteams", "month_start"],
              "alignment_team_monthly": ["tree", "team_id", "includes_subteams", "month_start", "category"],
              "sprint_metrics": ["sprint_id", "tree", "team_id"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.getbasetemp() / "prod_warehouse")


def busiest_developer(db) -> str:
    """The developer with the most PRs (the person with the most traces)."""
    dev = query(db, """select developer_id from marts.bridge_pull_request_team where tree = 'reporting'
                       group by 1 order by count(*) desc limit 1""").developer_id[0]
    return dev


def personal_needles(world, developer_id: str) -> list[str]:
    """What names the developer (full name, emails, logins, account ids), read from the
    simulator's own rows: independent of the forget module."""
    from simulator.truth import truth_frame
    people = truth_frame(world, "developers")
    me = people[people.dev_id == developer_id].iloc[0]
    ids = truth_frame(world, "identities")
    mine = ids[ids.dev_id == developer_id]
    return sorted({me.full_name, me.email, *mine.login.dropna(), *mine.email.dropna(), *mine.account_id.dropna()}
                  - {""})


def occurrences(db, needles: list[str]) -> pd.DataFrame:
    """Every (table, column) whose text contains any needle, case-insensitively, over every
    table and view of the file."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = con.execute("""select table_schema, table_name, column_name from information_schema.columns
                              where table_schema not in ('information_schema', 'pg_catalog')
                                and data_type in ('VARCHAR', 'JSON')""").fetchall()
        hits = []
        for s, t, c in cols:
            cond = " or ".join(f"contains(lower(cast(\"{c}\" as varchar)), ?)" for _ in needles)
            n = con.execute(f'select count(*) from "{s}"."{t}" where {cond}', [x.lower() for x in needles]).fetchone()[0]
            if n:
                hits.append((f"{s}.{t}", c, n))
        return pd.DataFrame(hits, columns=["table", "column", "rows"])
    finally:
        con.close()


def team_figures(db) -> dict[str, pd.DataFrame]:
    return {m: query(db, f"select * from marts.{m}").sort_values(keys).reset_index(drop=True)
            for m, keys in TEAM_MARTS.items()}


def test_forget_leaves_no_trace_and_team_figures_unchanged(built, tmp_path):
    from ingestion.org.forget import forget_developer
    from core.publish import publish_serving
    db = tmp_path / "sei.duckdb"
    shutil.copy(built["db"], db)
    dev = busiest_developer(db)
    needles = personal_needles(built["world"], dev)
    assert len(needles) >= 3
    before = team_figures(db)
    assert not occurrences(db, needles).empty            # the search finds them before
    serving = tmp_path / "serving.duckdb"
    publish_serving(db, serving)
    assert not occurrences(serving, needles).empty

    result = forget_developer(dev, db)
    assert result.remaining == 0
    publish_serving(db, serving)                          # what `sei org forget` does when a serving file exists
    for f in (db, serving):
        left = occurrences(f, needles)
        assert left.empty, left
    # team figures: as they were, and the same when rebuilt from the scrubbed raw data
    assert all(team_figures(db)[m].equals(before[m]) for m in TEAM_MARTS)
    r = dbt(["run", "--select", *[f"+{m}" for m in TEAM_MARTS], "--exclude", "resource_type:seed"], db, tmp_path / "t")
    assert r.returncode == 0, r.stdout[-3000:]
    after = team_figures(db)
    for m in TEAM_MARTS:
        pd.testing.assert_frame_equal(after[m], before[m], check_exact=False, rtol=1e-12)
    assert occurrences(db, needles).empty
    # the person is still one developer, now under a pseudonym
    d = query(db, f"select full_name from staging.stg_org__developers where developer_id = '{dev}'").full_name[0]
    assert d.startswith(result.pseudonym)
    print(f"\nforgot {dev}: {len(needles)} values gone from {sum(result.tables.values()):,} rows in "
          f"{len(result.tables)} tables; team figures identical after a rebuild")


def test_per_person_switches(built, tmp_path):
    from core.profiles.base import apply_profiles
    from test_dbt_staging import PROJECT
    db = tmp_path / "sei.duckdb"
    shutil.copy(built["db"], db)
    full = query(db, "select * from marts.productivity_developer_monthly")
    dev = full.groupby("developer_id").size().idxmax()
    assert len(full) > 20 and full.merged_prs.sum() > 0
    text = (PROJECT.parent / "profiles" / "productivity.yml").read_text()
    prof = tmp_path / "profiles"
    prof.mkdir()
    select = ["stg_config__privacy_settings", "stg_config__privacy_hidden_developers", "productivity_developer_monthly"]
    (prof / "productivity.yml").write_text(text.replace("hidden_developers: []", f"hidden_developers: [{dev}]"))
    apply_profiles(db, prof)
    assert dbt(["run", "--select", *select], db, tmp_path / "t").returncode == 0
    hidden = query(db, "select * from marts.productivity_developer_monthly")
    assert dev not in set(hidden.developer_id) and len(hidden) == len(full) - (full.developer_id == dev).sum()
    # team figures do not move
    assert query(db, "select sum(merged_prs) n from marts.productivity_team_monthly").n[0] == \
        query(built["db"], "select sum(merged_prs) n from marts.productivity_team_monthly").n[0]
    (prof / "productivity.yml").write_text(text.replace("per_person_metrics: true", "per_person_metrics: false"))
    apply_profiles(db, prof)
    assert dbt(["run", "--select", *select], db, tmp_path / "t").returncode == 0
    assert query(db, "select count(*) n from marts.productivity_developer_monthly").n[0] == 0


def test_retention_drops_old_personal_data(built, tmp_path):
    from ingestion.org.retention import apply_retention
    db = tmp_path / "raw.duckdb"
    shutil.copy(built["raw"], db)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    cutoff = "2026-05-01"
    old_prs = query(db, f"select count(*) n from raw_github.pull_requests where coalesce(merged_at, closed_at) < '{cutoff}'").n[0]
    open_old = query(db, f"select count(*) n from raw_github.pull_requests where created_at < '{cutoff}' "
                         "and merged_at is null and closed_at is null").n[0]
    old_issues = query(db, f"select count(*) n from raw_jira.issues where resolved_at < '{cutoff}'").n[0]
    assert old_prs > 100 and old_issues > 50
    dry = apply_retention(db, months=6, now=now, dry_run=True)
    assert dry.deleted["raw_github.pull_requests"] == old_prs
    assert query(db, "select count(*) n from raw_github.pull_requests").n[0] > old_prs     # dry run: nothing went
    r = apply_retention(db, months=6, now=now)
    assert r.cutoff == dt.datetime(2026, 5, 1)
    left = query(db, f"""select
        (select count(*) from raw_github.pull_requests where coalesce(merged_at, closed_at) < '{cutoff}') as prs,
        (select count(*) from raw_github.pull_requests where created_at < '{cutoff}'
                                                       and merged_at is null and closed_at is null) as open_prs,
        (select count(*) from raw_jira.issues where resolved_at < '{cutoff}') as issues,
        (select count(*) from raw_github.pull_requests__reviews
          where _dlt_root_id not in (select _dlt_id from raw_github.pull_requests)) as orphan_reviews,
        (select count(*) from raw_jira.issue_changelogs where issue_id not in (select id from raw_jira.issues)) as orphan_log,
        (select count(*) from raw_github.commits where authored_at < '{cutoff}' and author_email is not null) as named,
        (select count(*) from raw_github.commits where authored_at < '{cutoff}') as commits""").iloc[0]
    assert (left.prs, left.issues, left.orphan_reviews, left.orphan_log, left.named) == (0, 0, 0, 0, 0)
    assert left.open_prs == open_old and left.commits > 0           # open PRs and the history chain stay
    # nothing configured: nothing happens
    assert apply_retention(db, months=None, profiles_dir=tmp_path).months is None
