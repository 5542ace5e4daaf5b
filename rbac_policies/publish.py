"""The access-control step of a scheduled run, after the serving publish: per-scope files
and/or PostgreSQL row-level security, as configured by environment variables.

- nothing happens without a policy (`SEI_RBAC_POLICY`): single-administrator mode;
- scope files when `SEI_SCOPES_DIR` is set (formats from `SEI_SCOPES_FORMATS`,
  default `duckdb`; e.g. `duckdb,parquet`);
- PostgreSQL when `SEI_RBAC_POSTGRES` is `serving` (copy the marts and protect them) or
  `in_place` (PostgreSQL is the warehouse), connecting with `SEI_PG_DSN` or `SEI_PG_*`.

Any problem (invalid policy, unclassifiable mart, looping org tree) raises before the
published scopes change, so the last good ones stay in force.
"""
from __future__ import annotations

import os
from pathlib import Path


def publish_policies(warehouse: str | Path | None = None, sources=None) -> dict:
    """Run the configured access-control publishes; a summary for logs and run metadata."""
    from rbac_policies.policy import policy_path
    policy = policy_path()
    if policy is None:
        return {"mode": "single-admin"}
    out: dict = {"mode": "policy", "policy": str(policy)}
    scopes_dir = os.environ.get("SEI_SCOPES_DIR")
    if scopes_dir:
        from rbac_policies.duck import publish_scopes
        formats = tuple(f.strip() for f in os.environ.get("SEI_SCOPES_FORMATS", "duckdb").split(",") if f.strip())
        r = publish_scopes(policy, scopes_dir, warehouse, sources, formats=formats)
        out["scopes"] = {"principals": len(r.files), "removed": len(r.removed), "seconds": round(r.seconds, 2),
                         "files_in_full": len(r.full_files), "marts_rewritten": r.rewritten, "marts_kept": r.kept}
    mode = os.environ.get("SEI_RBAC_POSTGRES", "").strip().lower()
    if mode:
        if mode not in ("serving", "in_place"):
            raise ValueError(f"SEI_RBAC_POSTGRES={mode!r}: use serving or in_place")
        from rbac_policies import postgres
        con = postgres.connect(os.environ.get("SEI_PG_DSN"))
        try:
            r = (postgres.apply_in_place(policy, con, sources=sources) if mode == "in_place"
                 else postgres.publish_postgres(policy, con, warehouse, sources))
        finally:
            con.close()
        out["postgres"] = {"mode": mode, "marts": len(r.tables), "roles": len(r.roles),
                           "dropped_roles": r.dropped_roles, "seconds": round(r.seconds, 2)}
        if mode == "serving":
            out["postgres"].update(marts_copied=len(r.copied), marts_kept=len(r.kept), full_reason=r.full_reason,
                                   scope_tables_cut=r.scope_tables_cut)
    return out
