"""A few lines on DORA for the end of `make run`: per metric, how many teams (team alone,
reporting tree) reached each band in some month, so the demo shows every band occurring."""
from __future__ import annotations

from pathlib import Path

import duckdb

from core.settings import warehouse_path

BANDS = ("elite", "high", "medium", "low")
METRICS = (("deployment_frequency_band", "deployment frequency"), ("lead_time_band", "lead time"),
           ("change_failure_rate_band", "change failure rate"), ("recovery_time_band", "recovery time"))


def dora_summary(warehouse: Path | str | None = None, tree: str = "reporting") -> str:
    db = Path(warehouse or warehouse_path())
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as e:
        return f"   (no DORA summary: {e})"
    try:
        rows = {}
        for column, _ in METRICS:
            rows[column] = dict(con.execute(
                f"select {column}, count(distinct team_id) from marts.dora_team_monthly "
                f"where tree = ? and not includes_subteams and {column} is not null group by 1", [tree]).fetchall())
        year = con.execute("select max(dora_report_year) from marts.dora_team_monthly").fetchone()[0]
    except duckdb.Error as e:
        return f"   (no DORA summary: {str(e).splitlines()[0]})"
    finally:
        con.close()
    lines = [f"   DORA bands ({year} report), teams of the {tree} tree reaching each band in some month:"]
    for column, label in METRICS:
        lines.append(f"     {label:20s} " + ", ".join(f"{b} {rows[column].get(b, 0)}" for b in BANDS))
    return "\n".join(lines)
