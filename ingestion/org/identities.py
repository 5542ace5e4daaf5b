"""Identity resolution: which developer is behind each tool account seen in the warehouse.

Accounts come from the raw tables ingestion wrote (tables and columns that do not exist
yet are skipped):
- GitHub (`github`, keyed by login, case-insensitive): authors of pull requests, reviews,
  releases, default-branch commits (with the commit's author email and name), deployment
  creators and workflow-run actors; a commit whose email GitHub could not link to a user
  is a `git` account keyed by that email (a `users.noreply.github.com` address gives the
  login back).
- Jira (`jira`, keyed by account id; the user key on Data Center): every `..._account_id`
  column of every `raw_jira` table (issue assignee and reporter, changelog author, the
  users table), with the `...email_address` / `...display_name` / `...account_type`
  columns beside it. Rows of tables named like `*user*` describe people but are not
  activity; the scope column `account_id` and a changelog's `from_`/`to_` ids are not
  accounts acting.
- Harness (`harness`, keyed by the user identifier): who triggered manual pipeline
  executions (`triggered_by`, `triggered_by_email`).

Each account is matched by the first rule that names exactly one developer:

- override (1.0): identity_overrides.csv names the developer, or `bot` / `none`;
- declared (1.0): the developers file lists the account (github_logins, ...);
- bot: GitHub says Bot, Jira says app, a `[bot]` login, known automation logins, or the
  word bot / bots / automation in the login or name;
- email (0.95): an email the account used is a developer's email;
- login (0.6-0.9): the login equals an email's local part (0.9); once digits, company
  words and `dev`-like words are stripped, first+last or last+first (0.85), initial+last
  (0.8), first name + last initial (0.6);
- name (0.75): a display or commit author name equals a developer's full name;
- context (0.5): several namesakes fit; exactly one is in a team (or above one) that owns
  the repositories of at least half the account's activity, and no other one is.

When a rule finds several developers, the account stays unmatched with those developers
in `candidates` (an override settles it). Bots never get a developer and are excluded
from per-person metrics.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ingestion.lock import writes_warehouse
from ingestion.org.validate import Org, account_key

NOREPLY = re.compile(r"^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$")
STOP_TOKENS = {"dev", "devs", "gh", "github", "work", "personal", "private", "priv", "official", "real", "the",
               "code", "git", "me", "hq", "inc", "corp", "eng"}
BOT_WORDS = {"bot", "bots", "automation"}
BOT_LOGINS = {"github-actions", "web-flow", "ghost", "actions-user", "copilot", "github-advanced-security"}
CONF = {"override": 1.0, "declared": 1.0, "email": 0.95, "login_email": 0.9, "login_name": 0.85,
        "login_initial": 0.8, "login_weak": 0.6, "name": 0.75, "context": 0.5}
MATCH_COLUMNS = ["tool", "account_id", "login", "display_name", "email", "developer_id", "rule", "confidence",
                 "is_bot", "activity", "candidates", "sources"]


# --------------------------------------------------------------------------- normalisation
def fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).casefold()


def norm_name(s: str | None) -> str:
    """'  Müller, Anna-Lena ' -> 'anna lena muller' (accents, case, punctuation, 'Last, First')."""
    if not s:
        return ""
    s = fold(s)
    if s.count(",") == 1:
        last, first = s.split(",")
        s = f"{first} {last}"
    return " ".join(re.findall(r"[a-z0-9]+", s))


def login_exact(s: str) -> str:
    return "".join(re.findall(r"[a-z0-9]", fold(s)))


def login_loose(s: str, company: set[str]) -> str:
    """'Anna-Bauer-ACME12' -> 'annabauer': tokens without trailing digits, without
    company and `dev`-like words."""
    toks = [re.sub(r"\d+$", "", t) for t in re.split(r"[^a-z0-9]+", fold(s).replace("[bot]", ""))]
    return "".join(t for t in toks if t and t not in STOP_TOKENS and t not in company)


def is_noreply(email: str) -> bool:
    return bool(NOREPLY.match(email))


def looks_bot(tool: str, login: str | None, names, types) -> bool:
    if any(t and str(t).lower() in ("bot", "app") for t in types):
        return True
    lg = (login or "").lower()
    if lg.endswith("[bot]") or lg in BOT_LOGINS:
        return True
    words = set(re.split(r"[^a-z0-9]+", lg))
    for n in names:
        words |= set(re.split(r"[^a-z0-9]+", fold(n or "")))
    return bool(words & BOT_WORDS)


# --------------------------------------------------------------------------- the developer side
@dataclass
class Directory:
    """Everything accounts are matched against, built from one org import."""
    by_email: dict[str, set[str]] = field(default_factory=dict)
    login_keys: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # level -> key -> developers
    by_name: dict[str, set[str]] = field(default_factory=dict)
    declared: dict[tuple[str, str], str] = field(default_factory=dict)
    overrides: dict[tuple[str, str], tuple[str | None, bool]] = field(default_factory=dict)
    company: set[str] = field(default_factory=set)
    dev_repos: dict[str, set[str]] = field(default_factory=dict)  # repositories of the teams a person was in
    developers: int = 0

    @classmethod
    def build(cls, people, overrides=(), team_repos=()) -> "Directory":
        """`people`: (developer_id, full_name, emails, {tool: [accounts]}) tuples;
        `overrides`: (tool, account, developer_id or None, is_bot) tuples;
        `team_repos`: (developer_id, repository) pairs from memberships and services."""
        d = cls(login_keys={k: {} for k in ("login_email", "login_name", "login_initial", "login_weak")})
        people = list(people)
        d.developers = len(people)
        for _, _, emails, _ in people:
            for e in emails:
                dom = e.rsplit("@", 1)[-1]
                d.company |= {p for p in dom.split(".")[:-1] if len(p) > 2}
        for did, name, emails, idents in people:
            for e in emails:
                d.by_email.setdefault(e.lower(), set()).add(did)
                d._key("login_email", login_exact(e.split("@")[0]), did)
            toks = norm_name(name).split()
            if len(toks) >= 2:
                first, last = toks[0], toks[-1]
                d.by_name.setdefault(" ".join(toks), set()).add(did)
                if len(toks) > 2:
                    d.by_name.setdefault(f"{first} {last}", set()).add(did)
                for k in (first + last, last + first, "".join(toks)):
                    d._key("login_name", k, did)
                d._key("login_initial", first[0] + last, did)
                d._key("login_weak", first + last[0], did)
            for tool, accs in (idents or {}).items():
                for a in accs:
                    d.declared[(tool, account_key(tool, a))] = did
        for tool, acc, did, is_bot in overrides:
            d.overrides[(tool, account_key(tool, acc))] = (did, bool(is_bot))
        for did, repo in team_repos:
            d.dev_repos.setdefault(did, set()).add(repo.lower())
        return d

    def _key(self, level: str, key: str, did: str) -> None:
        if len(key) >= 3:
            self.login_keys[level].setdefault(key, set()).add(did)

    @classmethod
    def from_org(cls, org: Org) -> "Directory":
        owned: dict[tuple[str, str], list[str]] = {}
        for s in org.services:
            owned.setdefault((s.owning_tree, s.owning_team_id), []).extend(s.repositories)
        under: dict[tuple[str, str], set[str]] = {}  # a team's repositories with its sub-teams'
        for t in org.teams:
            mine = owned.get((t.tree, t.team_id), [])
            if mine and t.path:
                parts = t.path.split("/")
                for i in range(1, len(parts) + 1):
                    under.setdefault((t.tree, parts[i - 1]), set()).update(mine)
        pairs = {(m.developer_id, r) for m in org.memberships for r in under.get((m.tree, m.team_id), ())}
        return cls.build([(d.developer_id, d.full_name, d.emails, d.identities) for d in org.developers],
                         [(o.tool, o.account, o.developer_id, o.is_bot) for o in org.overrides], pairs)

    @classmethod
    def from_warehouse(cls, con, import_id: int) -> "Directory":
        devs = con.execute("SELECT developer_id, full_name FROM raw_org.developers WHERE import_id = ?",
                           [import_id]).fetchall()
        emails: dict[str, list[str]] = {}
        for did, e in con.execute("SELECT developer_id, email FROM raw_org.developer_emails WHERE import_id = ? "
                                  "ORDER BY NOT is_primary", [import_id]).fetchall():
            emails.setdefault(did, []).append(e)
        idents: dict[str, dict[str, list[str]]] = {}
        for did, tool, acc in con.execute("SELECT developer_id, tool, account FROM raw_org.developer_identities "
                                          "WHERE import_id = ?", [import_id]).fetchall():
            idents.setdefault(did, {}).setdefault(tool, []).append(acc)
        ov = con.execute("SELECT tool, account, developer_id, is_bot FROM raw_org.identity_overrides "
                         "WHERE import_id = ?", [import_id]).fetchall()
        pairs = con.execute(
            "SELECT DISTINCT m.developer_id, r.repository FROM raw_org.memberships m "
            "JOIN raw_org.teams t ON t.import_id = m.import_id AND t.tree = m.tree AND t.team_id = m.team_id "
            "JOIN raw_org.teams sub ON sub.import_id = t.import_id AND sub.tree = t.tree "
            "AND (sub.path = t.path OR starts_with(sub.path, t.path || '/')) "
            "JOIN raw_org.services s ON s.import_id = sub.import_id AND s.owning_tree = sub.tree "
            "AND s.owning_team_id = sub.team_id "
            "JOIN raw_org.service_repositories r ON r.import_id = s.import_id AND r.service = s.service "
            "WHERE m.import_id = ?", [import_id]).fetchall()
        return cls.build([(did, name, emails.get(did, []), idents.get(did, {})) for did, name in devs], ov, pairs)

    def declared_for(self, tool: str, keys) -> str | None:
        for k in keys:
            if k and (tool, account_key(tool, k)) in self.declared:
                return self.declared[(tool, account_key(tool, k))]
        return None


# --------------------------------------------------------------------------- matching
def _unique(found: set[str]) -> tuple[str | None, set[str]]:
    return (next(iter(found)), found) if len(found) == 1 else (None, found)


def _match_login(login: str, d: Directory) -> tuple[str | None, str | None, set[str]]:
    """(developer, level, candidates). A login equal to an email's local part wins, unless
    it only equals it once digits are stripped and namesakes share that form (the login
    `aliceschmidt7` could be alice.schmidt or alice.schmidt2)."""
    keys = d.login_keys
    exact, loose = login_exact(login), login_loose(login, d.company)
    by_email = keys["login_email"].get(exact, set())
    same_name = keys["login_email"].get(loose, set()) | keys["login_name"].get(loose, set())
    if len(by_email) == 1 and (exact != loose or len(same_name) <= 1):
        return next(iter(by_email)), "login_email", set()
    if len(same_name) == 1:
        return next(iter(same_name)), "login_name", set()
    if same_name:
        return None, None, same_name
    for level in ("login_initial", "login_weak"):
        found = keys[level].get(loose, set())
        if len(found) == 1:
            return next(iter(found)), level, set()
        if found:
            return None, None, found
    return None, None, set()


def match_account(tool: str, account_id: str, login: str | None, emails, names, types, d: Directory,
                  repos: dict[str, int] | None = None) -> dict:
    """One account -> {developer_id, rule, confidence, is_bot, candidates}."""
    keys = [account_id, login] + ([e for e in emails] if tool in ("harness", "git") else [])
    for k in keys:
        if k and (tool, account_key(tool, k)) in d.overrides:
            did, bot = d.overrides[(tool, account_key(tool, k))]
            return dict(developer_id=did, rule="override", confidence=1.0, is_bot=bot, candidates=None)
    did = d.declared_for(tool, keys)
    if tool == "git" and did is None:  # a commit email whose login GitHub did not know
        did = d.declared_for("github", [login])
    if did:
        return dict(developer_id=did, rule="declared", confidence=1.0, is_bot=False, candidates=None)
    if looks_bot(tool, login, names, types):
        return dict(developer_id=None, rule="bot", confidence=None, is_bot=True, candidates=None)
    tried: set[str] = set()
    found = set().union(*[d.by_email.get(e, set()) for e in emails if not is_noreply(e)]) if emails else set()
    did, cand = _unique(found)
    if did:
        return dict(developer_id=did, rule="email", confidence=CONF["email"], is_bot=False, candidates=None)
    tried |= cand
    if login:
        did, level, cand = _match_login(login, d)
        if did:
            return dict(developer_id=did, rule="login", confidence=CONF[level], is_bot=False, candidates=None)
        tried |= cand
    found = set()
    for n in names:
        nn = norm_name(n)
        if len(nn.split()) >= 2:
            found |= d.by_name.get(nn, set())
    did, cand = _unique(found)
    if did:
        return dict(developer_id=did, rule="name", confidence=CONF["name"], is_bot=False, candidates=None)
    tried |= cand
    if len(tried) > 1 and repos:
        did = _by_context(tried, repos, d)
        if did:
            return dict(developer_id=did, rule="context", confidence=CONF["context"], is_bot=False,
                        candidates=",".join(sorted(tried)))
    return dict(developer_id=None, rule=None, confidence=None, is_bot=False,
                candidates=",".join(sorted(tried)) or None)


def _by_context(candidates: set[str], repos: dict[str, int], d: Directory) -> str | None:
    """Namesakes told apart by where the account works: the one candidate whose teams (with
    their sub-teams) own the repositories of at least half the account's activity, when no
    other candidate's teams own any of them and every candidate's teams own some."""
    total = sum(repos.values())
    if not total or any(not d.dev_repos.get(c) for c in candidates):
        return None  # someone we cannot place could be the one
    share = {c: sum(n for r, n in repos.items() if r in d.dev_repos.get(c, ())) / total for c in candidates}
    hits = [c for c, v in share.items() if v > 0]
    return hits[0] if len(hits) == 1 and share[hits[0]] >= 0.5 else None


def _s(v) -> str | None:
    return v if isinstance(v, str) and v else None


def resolve(accounts: pd.DataFrame, d: Directory) -> pd.DataFrame:
    """Match every account (frame from `gather_accounts`); one row per account with the
    columns of raw_org.identity_matches. Accounts the org declares but nobody used yet are
    added with activity 0, so a lookup finds them as soon as their activity arrives."""
    rows = []
    seen = set()
    for a in accounts.itertuples(index=False):
        m = match_account(a.tool, a.account_id, _s(a.login), list(a.emails), list(a.names), list(a.types), d,
                          dict(a.repos))
        seen.add((a.tool, account_key(a.tool, a.account_id)))
        rows.append(dict(tool=a.tool, account_id=a.account_id, login=_s(a.login), display_name=_s(a.display_name),
                         email=_s(a.email), activity=int(a.activity), sources=a.sources, **m))
    for (tool, key), did in d.declared.items():
        if (tool, key) not in seen:
            rows.append(dict(tool=tool, account_id=key, login=key if tool == "github" else None, display_name=None,
                             email=None, activity=0, sources=None, developer_id=did, rule="declared",
                             confidence=1.0, is_bot=False, candidates=None))
    out = pd.DataFrame(rows, columns=MATCH_COLUMNS)
    return out.sort_values(["tool", "activity", "account_id"], ascending=[True, False, True], ignore_index=True)


# --------------------------------------------------------------------------- accounts in the warehouse
GITHUB_TABLES = [  # table, login, email, name, type
    ("pull_requests", "author_login", None, None, "author_type"),
    ("pull_requests__reviews", "author_login", None, None, "author_type"),
    ("commits", "author_login", "author_email", "author_name", None),
    ("releases", "author_login", None, None, None),
    ("deployments", "creator_login", None, None, None),
    ("workflow_runs", "actor_login", None, None, None),
]


def _columns(con, schema: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for t, c in con.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ?",
                            [schema]).fetchall():
        out.setdefault(t, set()).add(c)
    return out


def _q(col: str | None) -> str:
    return f'"{col}"' if col else "NULL"


def gather_accounts(con) -> pd.DataFrame:
    """Every account seen in raw_github / raw_jira / raw_harness, one row each: tool,
    account_id, login, display_name, email (most used), emails, names, types (lists),
    activity (rows that are its activity), sources (tables). Plain SQL (positional GROUP
    BY), so it reads a DuckDB or a PostgreSQL warehouse alike."""
    parts: list[str] = []
    gh = _columns(con, "raw_github")
    for table, login, email, name, typ in GITHUB_TABLES:
        cols = gh.get(table, set())
        if login not in cols:
            continue
        e = email if email in cols else None
        n = name if name in cols else None
        ty = typ if typ in cols else None
        src = f'raw_github."{table}" t'
        repo = "t.repository" if "repository" in cols else "NULL"
        prs = gh.get("pull_requests", set())
        if repo == "NULL" and "_dlt_root_id" in cols and {"_dlt_id", "repository"} <= prs:
            src += " LEFT JOIN raw_github.pull_requests p ON t._dlt_root_id = p._dlt_id"  # reviews: their PR's repo
            repo = "p.repository"
        col = lambda c: f't."{c}"' if c else "NULL"  # noqa: E731
        parts.append(f"SELECT 'github' AS tool, {col(login)} AS login, {col(e)} AS email, {col(n)} AS name, "
                     f"{col(ty)} AS type, {repo} AS repo, '{table}' AS src, 1 AS act, count(*) AS n FROM {src} "
                     f"WHERE {col(login)} IS NOT NULL OR {col(e)} IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")
    for table, cols in _columns(con, "raw_jira").items():
        users = "user" in table.lower()
        for c in sorted(cols):
            # `account_id` alone is the SEI account of the row's scope; from_/to_ are the
            # old and new assignee of a changelog item, not who acted
            if not c.endswith("account_id") or c == "account_id" or c.startswith(("from_", "to_")):
                continue
            p = c[: -len("account_id")]

            def sib(*names):
                for x in names:
                    if p + x in cols:
                        return p + x
                    if users and x in cols:  # users: jira_account_id beside display_name
                        return x
                return None
            e, n, ty = sib("email_address", "email"), sib("display_name"), sib("account_type")
            act = 0 if users else 1
            parts.append(f"SELECT 'jira' AS tool, {_q(c)} AS login, {_q(e)} AS email, {_q(n)} AS name, {_q(ty)} AS type, "
                         f"NULL AS repo, '{table}.{c}' AS src, {act} AS act, count(*) AS n FROM raw_jira.\"{table}\" "
                         f"WHERE {_q(c)} IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")
    for table, cols in _columns(con, "raw_harness").items():
        if "triggered_by" not in cols:
            continue
        e = "triggered_by_email" if "triggered_by_email" in cols else None
        cond = "trigger_type = 'MANUAL'" if "trigger_type" in cols else f"{_q(e)} IS NOT NULL"
        parts.append(f"SELECT 'harness' AS tool, triggered_by AS login, {_q(e)} AS email, NULL AS name, NULL AS type, "
                     f"NULL AS repo, '{table}' AS src, 1 AS act, count(*) AS n FROM raw_harness.\"{table}\" "
                     f"WHERE triggered_by IS NOT NULL AND {cond} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")
    if not parts:
        return _accounts_frame([])
    raw = con.execute(" UNION ALL ".join(f"({p})" for p in parts)).fetchall()
    return accounts_from_rows(raw)


def accounts_from_rows(raw) -> pd.DataFrame:
    """(tool, login_or_id, email, name, type, repository, source, is_activity, count)
    rows -> one row per account."""
    acc: dict[tuple[str, str], dict] = {}
    for tool, login, email, name, typ, repo, src, act, n in raw:
        email = email.strip().lower() if isinstance(email, str) and email.strip() else None
        if tool == "github" and not login and email:
            m = NOREPLY.match(email)
            tool, login = ("github", m.group(1)) if m else ("git", email)
        if not login:
            continue
        key = (tool, account_key(tool, login))
        a = acc.get(key)
        if a is None:
            a = acc[key] = dict(tool=tool, account_id=key[1],
                                logins=Counter(), emails=Counter(), names=Counter(), types=set(), activity=0,
                                sources=set(), repos=Counter())
        a["logins"][login] += n
        if email:
            a["emails"][email] += n
        if isinstance(name, str) and name.strip():
            a["names"][name.strip()] += n
        if typ:
            a["types"].add(str(typ))
        if isinstance(repo, str) and act:
            a["repos"][repo.lower()] += n
        a["activity"] += n * act
        a["sources"].add(src)
    return _accounts_frame(acc.values())


def _login(logins: Counter) -> str:
    """The most used spelling, preferring GitHub's `name[bot]` form for bots."""
    bot = [lg for lg in logins if lg.lower().endswith("[bot]")]
    return bot[0] if bot else logins.most_common(1)[0][0]


def _accounts_frame(accs) -> pd.DataFrame:
    rows = []
    for a in accs:
        emails = [e for e, _ in a["emails"].most_common()]
        real = [e for e in emails if not is_noreply(e)]
        rows.append(dict(tool=a["tool"], account_id=a["account_id"],
                         login=_login(a["logins"]) if a["tool"] != "jira" else None,
                         display_name=a["names"].most_common(1)[0][0] if a["names"] else None,
                         email=(real or emails or [None])[0], emails=emails, names=list(a["names"]),
                         types=sorted(a["types"]), repos=dict(a["repos"]), activity=a["activity"],
                         sources=",".join(sorted(a["sources"]))))
    return pd.DataFrame(rows, columns=["tool", "account_id", "login", "display_name", "email", "emails", "names",
                                       "types", "repos", "activity", "sources"])


# --------------------------------------------------------------------------- figures and the stored result
def activity_share(matches: pd.DataFrame) -> float:
    """Share of human (not bot) activity whose account resolved to a developer."""
    human = matches[~matches.is_bot.astype(bool)]
    total = human.activity.sum()
    return float(human[human.developer_id.notna()].activity.sum() / total) if total else 1.0


def summary(matches: pd.DataFrame) -> dict:
    seen = matches[matches.activity > 0]
    rules = seen.rule.fillna("unmatched").value_counts().to_dict()
    return {"accounts": int(len(seen)), "by_rule": {k: int(v) for k, v in rules.items()},
            "bots": int(seen.is_bot.astype(bool).sum()),
            "unmatched": int((seen.developer_id.isna() & ~seen.is_bot.astype(bool)).sum()),
            "human_activity_attributed": activity_share(seen)}


def unmatched(matches: pd.DataFrame, tool: str | None = None) -> pd.DataFrame:
    """Human accounts with activity and no developer, most active first."""
    u = matches[matches.developer_id.isna() & ~matches.is_bot.astype(bool) & (matches.activity > 0)]
    if tool:
        u = u[u.tool == tool]
    return u.sort_values(["activity", "tool", "account_id"], ascending=[False, True, True], ignore_index=True)


@dataclass
class Resolution:
    import_id: int
    matches: pd.DataFrame
    stored: bool

    @property
    def figures(self) -> dict:
        return summary(self.matches)


@writes_warehouse(unless=lambda a: not a["store"])  # one writer at a time (ingestion/lock.py)
def resolve_warehouse(warehouse: Path | str | None = None, store: bool = True) -> Resolution:
    """Match every account in the warehouse against the current org import and, if
    `store`, replace raw_org.identity_matches with the result (one transaction)."""
    from ingestion.destination import connect_warehouse, kind
    from ingestion.org.store import SCHEMA, connect, ensure_schema, latest_import
    con = connect(warehouse, read_only=not store)
    try:
        cur = latest_import(con)
        if cur is None:
            raise LookupError("no org imported yet: run `sei org import` first.")
        iid = int(cur["import_id"])
        d = Directory.from_warehouse(con, iid)
        if kind() == "postgres":    # the raw tables are there; the org history stays here
            with connect_warehouse(warehouse) as raw:
                accounts = gather_accounts(raw)
        else:
            accounts = gather_accounts(con)
        matches = resolve(accounts, d)
        if store:
            ensure_schema(con)
            df = matches.copy()
            df.insert(0, "import_id", iid)
            df.insert(0, "resolved_at", dt.datetime.now(dt.timezone.utc))
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"DELETE FROM {SCHEMA}.identity_matches")
                con.register("_matches", df)
                con.execute(f"INSERT INTO {SCHEMA}.identity_matches BY NAME SELECT * FROM _matches")
                con.unregister("_matches")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return Resolution(iid, matches, store)
    finally:
        con.close()
