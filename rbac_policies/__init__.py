"""Access policy as files (principals, roles, bindings), compiled to row-level enforcement."""
