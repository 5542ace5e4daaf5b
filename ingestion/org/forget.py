"""`sei org forget DEVELOPER`: replace a person's name, emails and tool accounts (logins,
Jira account ids, ...) with a stable pseudonym in every table of the warehouse: raw data,
the org import's history, identity resolution and every materialised model. Views
(staging) recompute from the rewritten tables.

Team figures stay the same: every value of the person is replaced consistently everywhere
(case-insensitively, as whole tokens), each by its own pseudonym, so identity resolution
still maps the person's accounts to the same developer and attribution is unchanged. The
developer id stays (it is the key people and teams are joined on; it names nobody).

With SEI_ENGINE=postgres the raw tables, the marts and the serving schemas are in PostgreSQL
and the org history in the DuckDB file: both are rewritten, each in one transaction, with
the same replacements (PostgreSQL's are committed first, so a failure in between leaves the
DuckDB file naming the person and the command finds the values again when run anew).

Pseudonyms are derived from the developer id (`forgotten-<10 hex>`), so forgetting twice,
or forgetting in a copy, gives the same result. The person is recorded in
`raw_org.forgotten_developers` (developer id, pseudonym, when) and never the values.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import re
from pathlib import Path

import duckdb

from ingestion.lock import writes_warehouse

TEXT_TYPES = ("VARCHAR", "JSON", "TEXT", "CHARACTER VARYING", "JSONB")  # DuckDB's and PostgreSQL's names
# Characters that may be part of a login, an email or a name token: a value only matches
# when not glued to one of them, so "ana" never rewrites "banana". A hyphen separates
# (GitHub writes branches as `revert-210-<login>/...`) unless that would touch another
# person's account ("alex" inside "alex-smith"): such values use STRICT.
TOKEN = "A-Za-z0-9_.@+"
STRICT = TOKEN + "\\-"


class ForgetError(ValueError):
    pass


@dataclasses.dataclass
class ForgetResult:
    developer_id: str
    pseudonym: str
    values: int                      # distinct personal values replaced
    tables: dict[str, int]           # "schema.table" -> rows rewritten
    remaining: int                   # rows still matching after the rewrite (0 expected)


def pseudonym(developer_id: str) -> str:
    return "forgotten-" + hashlib.sha256(developer_id.encode()).hexdigest()[:10]


def _tables(con) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'").fetchall()}


def _column(con, table: str, column: str) -> bool:
    s, t = table.split(".")
    return con.execute("select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
                       "and column_name = ?", [s, t, column]).fetchone()[0] > 0


def personal_values(con, developer_id: str) -> dict[str, set[str]]:
    """Everything that names the person, by kind: names, emails, accounts (logins and ids)."""
    have = _tables(con)
    names, emails, accounts = set(), set(), set()

    def q(table: str, sql: str, *params) -> list:
        return con.execute(sql, list(params)).fetchall() if table in have else []

    for (v,) in q("raw_org.developers", "select distinct full_name from raw_org.developers where developer_id = ?",
                  developer_id):
        names.add(v)
    for table in ("raw_org.developers",):
        for (v,) in q(table, f"select distinct primary_email from {table} where developer_id = ?", developer_id):
            emails.add(v)
    for (v,) in q("raw_org.developer_emails", "select distinct email from raw_org.developer_emails "
                  "where developer_id = ?", developer_id):
        emails.add(v)
    for (tool, v) in q("raw_org.developer_identities", "select distinct tool, account from raw_org.developer_identities "
                       "where developer_id = ?", developer_id):
        (emails if tool == "git" else accounts).add(v)
    for (tool, v) in q("raw_org.identity_overrides", "select distinct tool, account from raw_org.identity_overrides "
                       "where developer_id = ?", developer_id):
        (emails if tool == "git" else accounts).add(v)
    for row in q("raw_org.identity_matches", "select distinct tool, account_id, login, display_name, email "
                 "from raw_org.identity_matches where developer_id = ?", developer_id):
        tool, account, login, display, email = row
        (emails if tool == "git" else accounts).add(account)
        accounts.add(login)
        names.add(display)
        emails.add(email)
    jira = sorted(a for a in accounts if a)
    if jira and "raw_jira.users" in have:
        marks = ",".join("?" * len(jira))
        for name, email, user in con.execute(
                f"select display_name, email_address, {'user_name' if _column(con, 'raw_jira.users', 'user_name') else 'null'} "
                f"from raw_jira.users where jira_account_id in ({marks})", jira).fetchall():
            names.add(name)
            emails.add(email)
            accounts.add(user)
    known = sorted({e.lower() for e in emails if e} | {a.lower() for a in accounts if a})
    if known and "raw_github.commits" in have:
        marks = ",".join("?" * len(known))
        for a, c in con.execute(f"""select distinct
                    case when lower(author_email) in ({marks}) or lower(author_login) in ({marks}) then author_name end,
                    case when lower(committer_email) in ({marks}) or lower(committer_login) in ({marks}) then committer_name end
                from raw_github.commits""", known * 4).fetchall():
            names.update({a, c})
    clean = lambda s: {v.strip() for v in s if isinstance(v, str) and len(v.strip()) >= 2}  # noqa: E731
    # A name is replaced only in full ("Javier Alvarez"): a lone first name ("Javier", a git
    # author name) would also rewrite every other Javier.
    return {"names": {n for n in clean(names) if len(n.split()) >= 2}, "emails": clean(emails),
            "accounts": clean(accounts)}


def replacements(developer_id: str, values: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(value, pseudonym) pairs, longest values first so an email is replaced before the
    login inside it. Each value gets its own pseudonym (two emails must stay two accounts)."""
    p = pseudonym(developer_id)
    out: dict[str, str] = {}
    for kind, tag, fmt in (("emails", "e", "{p}-{tag}{i}@forgotten.invalid"), ("names", "n", "{p}-{tag}{i}"),
                           ("accounts", "a", "{p}-{tag}{i}")):
        for i, v in enumerate(sorted({v.lower() for v in values[kind]}), start=1):
            out.setdefault(v, fmt.format(p=p, tag=tag, i=i))
    return sorted(out.items(), key=lambda kv: (-len(kv[0]), kv[0]))


def _pattern(value: str, strict: bool = False) -> str:
    t = STRICT if strict else TOKEN
    return f"(?i)(^|[^{t}]){re.escape(value)}([^{t}]|$)"


def other_accounts(con, developer_id: str) -> set[str]:
    """Every other person's known accounts and emails, lower case."""
    have, out = _tables(con), set()
    if "raw_org.identity_matches" in have:
        out |= {a for (a,) in con.execute("select distinct lower(account_id) from raw_org.identity_matches "
                                          "where developer_id is distinct from ?", [developer_id]).fetchall() if a}
    if "raw_org.developer_identities" in have:
        out |= {a for (a,) in con.execute("select distinct lower(account) from raw_org.developer_identities "
                                          "where developer_id <> ?", [developer_id]).fetchall() if a}
    return out


def strict_values(pairs: list[tuple[str, str]], others: set[str]) -> set[str]:
    """Values that occur hyphen-joined inside another person's account."""
    out = set()
    for value, _ in pairs:
        for o in others:
            if o != value and re.search(f"(^|[^{TOKEN}]){re.escape(value)}([^{TOKEN}]|$)", o):
                out.add(value)
                break
    return out


def _is_postgres(con) -> bool:
    from ingestion.destination import PgConnection
    return isinstance(con, PgConnection)


def _text_columns(con) -> dict[str, list[tuple[str, str]]]:
    """Every text or JSON column of every base table: '"schema"."table"' -> [(column, type)]."""
    types = ", ".join(f"'{t}'" for t in TEXT_TYPES)
    rows = con.execute(f"""select c.table_schema, c.table_name, c.column_name, upper(c.data_type)
        from information_schema.columns c
        join information_schema.tables t
          on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_catalog = c.table_catalog
        where t.table_type = 'BASE TABLE' and upper(c.data_type) in ({types})
          and c.table_schema not in ('information_schema', 'pg_catalog')""").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for s, t, c, typ in rows:
        out.setdefault(f'"{s}"."{t}"', []).append((c, typ))
    return out


def scrub(con, pairs: list[tuple[str, str]], strict: set[str] = frozenset()) -> tuple[dict[str, int], int]:
    """Rewrite every text column of every table; returns rows rewritten per table and how
    many rows still match afterwards."""
    rewritten: dict[str, int] = {}
    remaining = 0
    pg = _is_postgres(con)
    # the patterns (`(?i)` first, `\\` escapes, bracket classes) mean the same to DuckDB's RE2
    # and PostgreSQL's advanced regular expressions; only the match operator differs
    matches = (lambda x, pat: f"({x} ~ '{pat}')") if pg else (lambda x, pat: f"regexp_matches({x}, '{pat}')")
    for table, cols in _text_columns(con).items():
        for attempt in range(4):   # adjacent occurrences share a separator: repeat until clean
            conds, sets = [], []
            for c, typ in cols:
                qc = f'"{c}"'
                expr, hit = f"cast({qc} as varchar)", []
                for value, pseudo in pairs:
                    pat = _pattern(value, value in strict).replace("'", "''")
                    expr = f"regexp_replace({expr}, '{pat}', '\\1{pseudo}\\2', 'g')"
                    hit.append(matches(f"cast({qc} as varchar)", pat))
                if pg and typ in ("JSON", "JSONB"):
                    expr = f"cast({expr} as {typ.lower()})"
                cond = " or ".join(hit)
                conds.append(f"({qc} is not null and ({cond}))")
                sets.append(f"{qc} = case when {qc} is not null and ({cond}) then {expr} else {qc} end")
            where = " or ".join(conds)
            n = con.execute(f"select count(*) from {table} where {where}").fetchone()[0]
            if n == 0:
                break
            if attempt == 3:
                remaining += n
                break
            con.execute(f"update {table} set {', '.join(sets)} where {where}")
            rewritten[table.replace('"', "")] = rewritten.get(table.replace('"', ""), 0) + n
    return rewritten, remaining


@writes_warehouse()  # one writer at a time (ingestion/lock.py)
def forget_developer(developer_id: str, warehouse: Path | str | None = None,
                     also: list[Path | str] = ()) -> ForgetResult:
    """Replace everything that names `developer_id` in the warehouse, in one transaction,
    and in the other DuckDB files listed in `also` (published copies) with the same values.
    With SEI_ENGINE=postgres, in PostgreSQL's tables too (prefixed `postgres:` in the result)."""
    from core.settings import warehouse_path
    from ingestion.destination import connect_warehouse, kind
    db = Path(warehouse or warehouse_path())
    if not db.exists():
        raise ForgetError(f"{db}: no warehouse here (set SEI_WAREHOUSE or pass --warehouse)")
    with contextlib.ExitStack() as stack:
        con = duckdb.connect(str(db))
        stack.callback(con.close)
        pg = stack.enter_context(connect_warehouse(db, read_only=False)) if kind() == "postgres" else None
        have = _tables(con)
        if "raw_org.developers" not in have or not con.execute(
                "select count(*) from raw_org.developers where developer_id = ?", [developer_id]).fetchone()[0]:
            raise ForgetError(f"developer {developer_id!r} is not in any org import of {db}: "
                              "use the developer_id column of the developers file (`sei org show`)")
        values = personal_values(con, developer_id)
        others = other_accounts(con, developer_id)
        if pg is not None:   # the raw tables (commits, Jira users) and the mirrored org are there
            for kind_, found in personal_values(pg, developer_id).items():
                values[kind_] |= found
            others |= other_accounts(pg, developer_id)
        pairs = replacements(developer_id, values)
        strict = strict_values(pairs, others)
        con.execute("begin")
        if pg is not None:
            pg.execute("begin")
        try:
            tables, remaining = scrub(con, pairs, strict)
            con.execute("create table if not exists raw_org.forgotten_developers "
                        "(developer_id varchar, pseudonym varchar, forgotten_at timestamp)")
            con.execute("insert into raw_org.forgotten_developers values (?, ?, ?)",
                        [developer_id, pseudonym(developer_id),
                         dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)])
            # the marts were scrubbed above; the next build rebuilds them from the scrubbed
            # raw rows whatever its window (orchestration/incremental.py), where dbt builds
            from orchestration.incremental import request_full_build
            if pg is not None:
                pg_tables, pg_remaining = scrub(pg, pairs, strict)
                tables.update({f"postgres:{t}": n for t, n in pg_tables.items()})
                remaining += pg_remaining
                request_full_build(pg, "sei org forget")
            else:
                request_full_build(con, "sei org forget")
            for path in also:
                forget_in_file(path, pairs, strict)
            if pg is not None:
                pg.execute("commit")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            if pg is not None:
                pg.execute("rollback")
            raise
    return ForgetResult(developer_id, pseudonym(developer_id), len(pairs), tables, remaining)


def forget_in_file(path: Path | str, pairs: list[tuple[str, str]], strict: set[str] = frozenset()) -> dict[str, int]:
    """Scrub another DuckDB file (a published copy) with the same replacements."""
    con = duckdb.connect(str(path))
    try:
        return scrub(con, pairs, strict)[0]
    finally:
        con.close()
