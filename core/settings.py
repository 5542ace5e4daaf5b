"""Paths and knobs every part reads, from environment variables with sensible defaults."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def warehouse_path() -> Path:
    """The embedded DuckDB warehouse (`SEI_WAREHOUSE`, default warehouse/sei.duckdb)."""
    return Path(os.environ.get("SEI_WAREHOUSE", PROJECT_ROOT / "warehouse" / "sei.duckdb"))


# Hours after which an integration's last successful sync counts as stale. Syncs run
# hourly; events files usually arrive daily.
DEFAULT_FRESHNESS_LAG_HOURS = {"github": 3.0, "jira": 3.0, "harness": 3.0, "events": 26.0}


def _parse_pairs(name: str, raw: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{name}={raw!r}: {part!r} is not source=hours. "
                             f"Fix: write it like github=3,jira=3,harness=3,events=26.") from None
    return out


def freshness_lag_hours() -> dict[str, float]:
    """Allowed lag per integration: defaults overridden by `SEI_FRESHNESS_LAG_HOURS`
    (e.g. `jira=6,events=48`)."""
    lags = dict(DEFAULT_FRESHNESS_LAG_HOURS)
    lags.update(_parse_pairs("SEI_FRESHNESS_LAG_HOURS", os.environ.get("SEI_FRESHNESS_LAG_HOURS", "")))
    return lags
