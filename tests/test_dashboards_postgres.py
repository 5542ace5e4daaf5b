"""The dashboards read through PostgreSQL as the viewer's own role (SEI_DASHBOARD_PG): a
PostgreSQL 15 cluster of the test's own, the tiny org published to it with the example
policy (`sei publish --target postgres`: one schema per principal, its search_path,
row-level security), and the pages under AppTest show exactly the principal's rows: the
same rows and figures as an independent query on the whole account for its subtree, and the
same as the page over its DuckDB scope file."""
from __future__ import annotations

import pandas as pd
import pytest

import dashboards_world as W
from test_dashboards import APP, MANAGER, MANAGER_TEAM, frame, metric, texts

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dashboards")]
PASSWORD = "pw-of-the-role"


@pytest.fixture(scope="module")
def pg():
    from pg import postgres_server
    from psycopg2 import sql
    from rbac_policies.postgres import publish_postgres
    w = W.built()
    with postgres_server() as srv:
        admin = srv.connect()
        publish_postgres(W.POLICY, admin, w["db"], w["sources"])
        for role in (MANAGER, "leo"):
            srv.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(PASSWORD))
                        .as_string(admin))
        admin.close()
        yield w, srv


@pytest.fixture()
def through_pg(pg, monkeypatch):
    w, srv = pg
    for k, v in W.env(w).items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SEI_DASHBOARD_DEMO", raising=False)
    monkeypatch.setenv("SEI_DASHBOARD_PG", f"host={srv.host} port={srv.port} dbname={srv.dbname} password={PASSWORD}")

    def run(principal, name, query=None):
        from streamlit.testing.v1 import AppTest
        monkeypatch.setenv("SEI_DASHBOARD_PRINCIPAL", principal)
        at = AppTest.from_file(APP, default_timeout=180)
        at.query_params.update(query or {})
        at.switch_page(name).run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    return run


def test_a_managers_dora_page_through_postgres_shows_exactly_its_rows(pg, through_pg, monkeypatch):
    w, _ = pg
    q = {"from": "2025-11-01", "to": "2026-10-31", "partial": "1"}
    at = through_pg(MANAGER, "views/dora.py", q)
    assert "principal elena (PostgreSQL, row-level security)" in texts(at)
    assert [sb.options for sb in at.selectbox if sb.label == "Team"] == [["Team Atlas (T002)"]]
    team = sorted(W.subtree(w, "reporting", MANAGER_TEAM))
    window = [team, pd.Timestamp("2025-11-01"), pd.Timestamp("2026-11-01")]
    deps = frame(at, "dora_deployments")
    want = W.full(w, "select deployment_id, source_url from marts.fct_deployments where is_production and team_id in "
                     "(select unnest(?::varchar[])) and coalesce(finished_at, started_at) >= ? and "
                     "coalesce(finished_at, started_at) < ? order by deployment_id", window)
    assert len(want) > 0
    got = deps[["deployment_id", "source_url"]].sort_values("deployment_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert set(frame(at, "dora_incidents").team_id) <= set(team)
    chg = frame(at, "dora_changes")
    assert (chg.author_login == "(outside your scope)").sum() > 0      # masked through RLS as in the scope file
    # the same page over the principal's DuckDB scope file shows the same figures and rows
    pg_tiles = {m.label: m.value for m in at.metric}
    pg_tables = {b.key: df.value for b, df in zip(at.download_button, at.dataframe)}
    monkeypatch.delenv("SEI_DASHBOARD_PG")
    duck = through_pg(MANAGER, "views/dora.py", q)
    assert {m.label: m.value for m in duck.metric} == pg_tiles
    for b, df in zip(duck.download_button, duck.dataframe):
        pd.testing.assert_frame_equal(pg_tables[b.key].reset_index(drop=True), df.value.reset_index(drop=True),
                                      check_dtype=False, obj=b.key)


def test_every_page_through_postgres_holds_no_team_outside_the_scope(pg, through_pg):
    w, _ = pg
    inside = W.subtree(w, "reporting", MANAGER_TEAM)
    for name in ("views/sprints.py", "views/productivity.py", "views/alignment.py", "views/goals.py",
                 "views/health.py"):
        at = through_pg(MANAGER, name, {"from": "2025-01-01", "to": "2027-01-01"})
        for df in at.dataframe:
            for col in ("team_id", "author_team_id"):
                if col in df.value:
                    assert set(df.value[col].dropna()) <= inside, (name, col)
    at = through_pg(MANAGER, "views/productivity.py", {"grain": "quarter", "stat": "p95"})
    last = frame(at, "productivity").iloc[-1]
    assert number_of(metric(at, "Merged PRs")) == last.merged_prs


def number_of(text: str) -> float:
    return float(text.replace(",", ""))


def test_postgres_refuses_another_role_and_an_unpublished_principal(pg):
    from dashboards.data import AccessError, pg_viewer
    _, srv = pg
    base = f"host={srv.host} port={srv.port} dbname={srv.dbname} password={PASSWORD}"
    with pytest.raises(AccessError, match="not as principal 'elena'"):
        pg_viewer("elena", base + " user=leo")
    with pytest.raises(AccessError, match="PostgreSQL as 'nobody'"):
        pg_viewer("nobody", base)
    v = pg_viewer("elena", base)
    assert v.path is None and v.as_of is not None and v.dsn
