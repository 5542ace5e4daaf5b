"""great-expectations suites over each newly loaded batch of raw data.

They cover what dbt tests on staging do not reach: the rows of *this* load (dlt's
`_dlt_load_id`), checked before anything downstream reads them. Timestamps that did not
parse (dlt puts such values in a `<column>__v_text` variant column), ends before starts,
null keys and values outside the known sets. A failing row is never deleted: it stays in
its raw table and gets a row in `quarantine.flagged_rows` (by dlt's `_dlt_id`), and the
asset check shows the counts and a sample in the Dagster UI.

Validated as pandas frames: great-expectations 1.x over DuckDB through SQLAlchemy errors
on every expectation (a known upstream bug).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pandas as pd

from ingestion.destination import connect_warehouse, has_table

QUARANTINE_DDL = """
create table if not exists quarantine.flagged_rows (
    source varchar not null,
    table_name varchar not null,
    dlt_id varchar not null,
    load_id varchar,
    expectation varchar not null,
    columns varchar,
    detail varchar,
    flagged_at timestamptz not null
)"""


@dataclasses.dataclass(frozen=True)
class Rule:
    kind: str                 # not_null | in_set | a_ge_b | parses
    column: str
    other: str | None = None  # a_ge_b: the start column
    values: tuple = ()        # in_set

    @property
    def name(self) -> str:
        return {"not_null": f"{self.column} is not null", "in_set": f"{self.column} in {list(self.values)}",
                "a_ge_b": f"{self.column} >= {self.other}", "parses": f"{self.column} parses as a timestamp"}[self.kind]


def _ts(*cols: str) -> list[Rule]:
    return [Rule("parses", c) for c in cols]


# (source, raw table) -> rules. Ends are compared to starts only where both are known.
SUITES: dict[tuple[str, str], list[Rule]] = {
    ("github", "pull_requests"): [
        Rule("not_null", "id"), Rule("not_null", "repository"), Rule("not_null", "created_at"),
        Rule("in_set", "state", values=("OPEN", "CLOSED", "MERGED")),
        Rule("a_ge_b", "merged_at", "created_at"), Rule("a_ge_b", "closed_at", "created_at"),
        *_ts("created_at", "merged_at", "closed_at", "ready_for_review_at", "first_commit_authored_at")],
    ("github", "commits"): [Rule("not_null", "sha"), Rule("not_null", "repository"), *_ts("authored_at", "committed_at")],
    ("github", "deployments"): [Rule("not_null", "id"), Rule("not_null", "repository"), *_ts("created_at")],
    ("github", "deployment_statuses"): [
        Rule("not_null", "id"), Rule("not_null", "deployment_id"),
        Rule("in_set", "state", values=("error", "failure", "inactive", "in_progress", "queued", "pending",
                                        "success", "waiting")), *_ts("created_at")],
    ("github", "workflow_runs"): [Rule("not_null", "id"), Rule("a_ge_b", "updated_at", "created_at"),
                                  *_ts("created_at", "updated_at", "run_started_at")],
    ("jira", "issues"): [
        Rule("not_null", "id"), Rule("not_null", "key"), Rule("not_null", "created_at"),
        Rule("in_set", "status_category", values=("new", "indeterminate", "done", "undefined")),
        Rule("a_ge_b", "updated_at", "created_at"), Rule("a_ge_b", "resolved_at", "created_at"),
        *_ts("created_at", "updated_at", "resolved_at")],
    ("jira", "sprints"): [Rule("not_null", "id"), Rule("in_set", "state", values=("future", "active", "closed")),
                          Rule("a_ge_b", "end_at", "start_at"), *_ts("start_at", "end_at", "complete_at")],
    ("harness", "pipeline_executions"): [
        Rule("not_null", "plan_execution_id"), Rule("a_ge_b", "end_ts", "start_ts"),
        Rule("a_ge_b", "deployment_finished_at", "deployment_started_at"), *_ts("start_ts", "end_ts")],
    ("events", "deployments"): [
        Rule("not_null", "deployment_id"), Rule("not_null", "service"), Rule("not_null", "finished_at"),
        Rule("a_ge_b", "finished_at", "started_at"), *_ts("started_at", "finished_at")],
    ("events", "incidents"): [
        Rule("not_null", "incident_id"), Rule("not_null", "service"), Rule("not_null", "opened_at"),
        Rule("a_ge_b", "resolved_at", "opened_at"), *_ts("opened_at", "resolved_at")],
}


@dataclasses.dataclass
class RuleResult:
    rule: str
    success: bool
    unexpected: int
    sample: list[dict]


@dataclasses.dataclass
class BatchResult:
    source: str
    table: str
    rows: int
    results: list[RuleResult]
    flagged: int = 0

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)


def _expectation(rule: Rule, columns: set[str]):
    import great_expectations as gx
    E = gx.expectations
    if rule.kind == "not_null":
        return E.ExpectColumnValuesToNotBeNull(column=rule.column)
    if rule.kind == "in_set":
        return E.ExpectColumnValuesToBeInSet(column=rule.column, value_set=list(rule.values))
    if rule.kind == "a_ge_b":
        return E.ExpectColumnPairValuesAToBeGreaterThanB(column_A=rule.column, column_B=rule.other, or_equal=True,
                                                         ignore_row_if="either_value_is_missing")
    # parses: dlt routes a value that does not coerce to the column's type to `<col>__v_text`.
    return E.ExpectColumnValuesToBeNull(column=f"{rule.column}__v_text")


def _applicable(rule: Rule, columns: set[str]) -> bool:
    if rule.kind == "parses":
        return f"{rule.column}__v_text" in columns
    return rule.column in columns and (rule.other is None or rule.other in columns)


def validate_batch(con, source: str, table: str, load_ids: list[str]) -> BatchResult | None:
    """Validate the rows of `load_ids` in raw_<source>.<table>; None when the table is absent."""
    import great_expectations as gx
    schema = f"raw_{source}"
    cols = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_schema = ? and table_name = ?", [schema, table]).fetchall()}
    if not cols:
        return None
    rules = [r for r in SUITES[(source, table)] if _applicable(r, cols)]
    marks = ", ".join("?" for _ in load_ids) or "null"
    df = con.execute(f'select * from {schema}."{table}" where _dlt_load_id in ({marks})', list(load_ids)).df()
    out = BatchResult(source, table, len(df), [])
    if df.empty or not rules:
        return out
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from great_expectations.data_context.types.base import ProgressBarsConfig
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)  # quiet logs
    batch = ctx.data_sources.add_pandas("raw").add_dataframe_asset(f"{source}_{table}") \
        .add_batch_definition_whole_dataframe("new_rows").get_batch(batch_parameters={"dataframe": df})
    for rule in rules:
        res = batch.validate(_expectation(rule, cols), result_format={
            "result_format": "COMPLETE", "unexpected_index_column_names": ["_dlt_id"]})
        idx = res.result.get("unexpected_index_list") or []
        out.results.append(RuleResult(rule.name, bool(res.success), int(res.result.get("unexpected_count") or 0),
                                      [dict(x) for x in idx]))
    return out


def flag_rows(con, batch: BatchResult, load_ids: list[str]) -> int:
    """Record every failing row in quarantine.flagged_rows (the raw row itself stays)."""
    rows = []
    now = dt.datetime.now(dt.timezone.utc)
    for r in batch.results:
        for item in r.sample:
            detail = {k: v for k, v in item.items() if k != "_dlt_id"}
            rows.append((batch.source, batch.table, item["_dlt_id"], ",".join(load_ids), r.rule,
                         ",".join(detail), str(detail)[:500], now))
    if rows:
        con.execute("create schema if not exists quarantine")
        con.execute(QUARANTINE_DDL)
        con.executemany("insert into quarantine.flagged_rows values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    batch.flagged = len(rows)
    return len(rows)


def new_load_ids(con, source: str, since: dt.datetime) -> list[str]:
    """dlt loads of raw_<source> completed at or after `since` (this sync's batch)."""
    if not has_table(con, f"raw_{source}", "_dlt_loads"):
        return []
    return [r[0] for r in con.execute(f"select load_id from raw_{source}._dlt_loads where inserted_at >= ? "
                                      f"and status = 0 order by load_id", [since]).fetchall()]


def validate_new_batches(warehouse, source: str, since: dt.datetime) -> list[BatchResult]:
    """Validate and flag every suite of `source` over the loads since `since`, in the
    warehouse the loads went to (the DuckDB file, or PostgreSQL)."""
    out = []
    with connect_warehouse(warehouse, read_only=False) as con:
        load_ids = new_load_ids(con, source, since)
        for (src, table) in SUITES:
            if src != source:
                continue
            res = validate_batch(con, source, table, load_ids) if load_ids else None
            if res is None:
                continue
            if not res.success:
                flag_rows(con, res, load_ids)
            out.append(res)
    return out


def summary_frame(results: list[BatchResult]) -> pd.DataFrame:
    return pd.DataFrame([{"table": b.table, "expectation": r.rule, "rows": b.rows, "failing": r.unexpected}
                         for b in results for r in b.results])
