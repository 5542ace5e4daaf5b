"""Paths and knobs every part reads, from environment variables with sensible defaults."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def warehouse_path() -> Path:
    """The embedded DuckDB warehouse (`SEI_WAREHOUSE`, default warehouse/sei.duckdb)."""
    return Path(os.environ.get("SEI_WAREHOUSE", PROJECT_ROOT / "warehouse" / "sei.duckdb"))
