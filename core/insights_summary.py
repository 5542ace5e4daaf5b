"""A few lines on the productivity side of a built warehouse for the end of `make run`:
goal statuses (all periods and the latest) and where effort went by alignment category."""
from __future__ import annotations

from pathlib import Path

import duckdb

from core.settings import warehouse_path


def insights_summary(warehouse: Path | str | None = None) -> str:
    db = Path(warehouse or warehouse_path())
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as e:
        return f"   (no productivity summary: {e})"
    try:
        goals = con.execute("""select status, count(*) as periods, sum(case when is_latest_period then 1 else 0 end)
                               from marts.goal_status group by 1 order by 1""").fetchall()
        shares = con.execute("""select category, sum(effort) as effort, min(effort_measure)
                                from marts.alignment_team_monthly
                                where tree = 'reporting' and not includes_subteams group by 1 order by 2 desc""").fetchall()
    except duckdb.Error as e:
        return f"   (no productivity summary: {str(e).splitlines()[0]})"
    finally:
        con.close()
    lines = ["   goals: " + ", ".join(f"{s} {n} periods ({latest} latest)" for s, n, latest in goals)]
    total = sum(e for _, e, _ in shares) or 1
    if shares:
        lines.append(f"   alignment ({shares[0][2]}): " + ", ".join(f"{c} {100 * e / total:.0f}%" for c, e, _ in shares))
    return "\n".join(lines)
