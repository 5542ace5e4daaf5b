"""Org import: developers, org trees, effective-dated memberships, services and tool
identities (DESIGN.md §3, formats in docs/org-files.md).

- `formats`: reading the CSV files (UTF-8/BOM, line numbers, size limit, formula cells),
  `safe_csv_cell` for anything exported to CSV.
- `validate`: `load_org(OrgFiles(...))` checks the files and returns an `Org` with issues.
- `store`: `import_org(...)` records versioned imports in `raw_org` (one transaction).
- `identities`: `resolve_warehouse()` matches tool accounts to developers with provenance.
- `cli`: the `sei org` commands.
"""
