"""Paths and knobs every part reads, from environment variables with sensible defaults."""
from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def environ(**kv):
    """Set (or, with None, unset) environment variables for the block, then restore them: the
    project is configured by environment, and the tests, the benchmarks and the dbt step (the
    window it hands to dbt's process) set it for a while."""
    old = {k: os.environ.get(k) for k in kv}
    os.environ.update({k: str(v) for k, v in kv.items() if v is not None})
    for k, v in kv.items():
        if v is None:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
