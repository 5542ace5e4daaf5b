"""Checking a set of org files as a whole and turning them into one consistent org.

`load_org(OrgFiles(...))` reads every file (formats.read_csv), checks each row and the
references between files, derives what the files leave implicit (a tree from manager
emails, members of a tree that has no membership rows) and returns an `Org` with every
`Issue` found. An Org with any error must not be imported; `store.import_org` enforces it.

Rules and their messages are listed in docs/org-files.md ("What is rejected").
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.org.formats import (DEFAULT_MAX_FILE_MB, CsvFile, Issue, parse_date, read_csv, split_multi)

TOOLS = ("github", "jira", "harness", "git")
IDENTITY_COLUMNS = {"github_logins": "github", "jira_account_ids": "jira", "harness_user_ids": "harness"}
EMAIL_RE = re.compile(r"^[^@\s;,<>\"']+@[^@\s;,<>\"']+\.[^@\s;,<>\"']+$")
TREE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
OVERRIDE_BOT, OVERRIDE_NONE = "bot", "none"
MAX_REPORTED = 200  # errors listed in full; the rest are counted

DATE_FIX = "write dates as YYYY-MM-DD (UTC), e.g. 2025-03-01."


def account_key(tool: str, account: str) -> str:
    """How accounts compare: GitHub logins and git emails ignore case (and GitHub's REST
    `name[bot]` is GraphQL's `name`); Jira and Harness ids are compared as given."""
    if tool == "github":
        return account.strip().lower().removesuffix("[bot]")
    return account.strip().lower() if tool == "git" else account.strip()


# --------------------------------------------------------------------------- the model
@dataclass
class Developer:
    developer_id: str
    full_name: str
    emails: list[str]
    manager_email: str | None = None
    role: str | None = None
    site: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    identities: dict[str, list[str]] = field(default_factory=dict)  # tool -> accounts
    line: int = 0
    in_file: bool = True  # False: carried forward from an earlier import (left the file = departed)

    @property
    def primary_email(self) -> str:
        return self.emails[0]


@dataclass
class Team:
    tree: str
    team_id: str
    name: str
    parent_team_id: str | None
    manager_email: str | None
    file: str
    line: int
    depth: int = 0
    path: str = ""


@dataclass
class Membership:
    developer_id: str
    tree: str
    team_id: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    dated: bool = False     # the file gave valid_from or valid_to: taken as given
    source: str = "file"    # file | managers (derived) | carried (kept from an earlier import)
    file: str = ""
    line: int = 0


@dataclass
class Service:
    service: str
    owning_tree: str
    owning_team_id: str
    project_id: str | None
    repositories: list[str]
    harness_service_ids: list[str]
    line: int


@dataclass
class Override:
    tool: str
    account: str
    developer_id: str | None  # None with is_bot False: "this account is nobody we track"
    is_bot: bool
    note: str | None
    line: int


@dataclass
class Tree:
    name: str
    source: str      # file | managers
    file: str
    root_team_id: str | None = None


@dataclass
class OrgFiles:
    """Which file plays which part. `trees_from_managers` names trees built from the
    developers' manager_email column instead of a tree file."""
    developers: Path | None = None
    trees: list[Path] = field(default_factory=list)
    memberships: Path | None = None
    services: Path | None = None
    overrides: Path | None = None
    trees_from_managers: list[str] = field(default_factory=list)

    @classmethod
    def from_dir(cls, d: Path | str, **explicit) -> "OrgFiles":
        """The standard names in folder `d` (developers.csv, org_tree_*.csv,
        memberships.csv, services.csv, identity_overrides.csv); `explicit` wins."""
        d = Path(d)
        f = cls(developers=d / "developers.csv", trees=sorted(d.glob("org_tree_*.csv")),
                memberships=(d / "memberships.csv") if (d / "memberships.csv").exists() else None,
                services=(d / "services.csv") if (d / "services.csv").exists() else None,
                overrides=(d / "identity_overrides.csv") if (d / "identity_overrides.csv").exists() else None)
        for k, v in explicit.items():
            if v:
                setattr(f, k, v)
        return f


@dataclass
class Org:
    developers: list[Developer] = field(default_factory=list)
    trees: dict[str, Tree] = field(default_factory=dict)
    teams: list[Team] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity != "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def checksum(self) -> str:
        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{f['kind']}:{f['sha256']}\n".encode())
        return h.hexdigest()

    def error_message(self, limit: int = MAX_REPORTED) -> str:
        errs = self.errors
        lines = [str(e) for e in errs[:limit]]
        if len(errs) > limit:
            lines.append(f"... and {len(errs) - limit} more errors")
        return "\n".join(lines)


# --------------------------------------------------------------------------- entry point
def load_org(files: OrgFiles, *, max_file_mb: float = DEFAULT_MAX_FILE_MB, allow_formulas: bool = False) -> Org:
    """Read and check every file; see the module doc."""
    org = Org()
    read = {}
    roles = [("developers", "developers", files.developers)] + [("tree", "tree", p) for p in files.trees] + \
        [(k, k, p) for k, p in (("memberships", files.memberships), ("services", files.services),
                                ("overrides", files.overrides)) if p is not None]
    if files.developers is None:
        org.issues.append(Issue("--developers", None, "no developers file given.",
                                "pass --developers developers.csv (or --dir with a developers.csv in it)."))
        return org
    if not files.trees and not files.trees_from_managers:
        org.issues.append(Issue("--tree", None, "no org tree given.",
                                "pass --tree org_tree_<name>.csv (repeat for several trees) or "
                                "--tree-from-managers <name> to build one from manager emails."))
    trees_files: list[CsvFile] = []
    for role, kind, p in roles:
        f = read_csv(p, kind, max_file_mb=max_file_mb, allow_formulas=allow_formulas)
        org.issues += f.issues
        org.files.append({**f.info(), "kind": role if role != "tree" else f"tree:{Path(p).name}"})
        if role == "tree":
            trees_files.append(f)
        else:
            read[role] = f
    if any(i.severity == "error" for i in org.issues):
        # A file that cannot be read makes the reference checks meaningless: stop here.
        return org
    v = _Validator(org)
    v.developers(read["developers"])
    for f in trees_files:
        v.tree_file(f)
    for name in files.trees_from_managers:
        v.tree_from_managers(name, read["developers"].label)
    v.finish_trees()
    if "memberships" in read:
        v.memberships(read["memberships"])
    v.implicit_memberships()
    if "services" in read:
        v.services(read["services"])
    if "overrides" in read:
        v.overrides(read["overrides"])
    return org


# --------------------------------------------------------------------------- the checks
class _Validator:
    def __init__(self, org: Org):
        self.org = org
        self.dev_by_id: dict[str, Developer] = {}
        self.dev_by_email: dict[str, Developer] = {}
        self.teams: dict[str, dict[str, Team]] = {}   # tree -> team_id -> team
        self.dev_file = ""

    def err(self, file, line, message, fix):
        self.org.issues.append(Issue(file, line, message, fix))

    def warn(self, file, line, message, fix):
        self.org.issues.append(Issue(file, line, message, fix, "warning"))

    # ---- developers.csv
    def developers(self, f: CsvFile) -> None:
        L = self.dev_file = f.label
        ident_owner: dict[tuple[str, str], Developer] = {}
        for line, r in f.rows:
            did, name = r.get("developer_id", ""), r.get("full_name", "")
            bad = False
            if not did:
                self.err(L, line, "developer_id is empty.", "give every person the stable id your HR system uses.")
                bad = True
            elif did in self.dev_by_id:
                self.err(L, line, f"duplicate developer_id {did!r} (first on line {self.dev_by_id[did].line}).",
                         "keep one row per person: merge the two rows, or give the second person their own id.")
                bad = True
            if not name:
                self.err(L, line, f"full_name is empty{f' for {did!r}' if did else ''}.",
                         "give the person's name as it appears in your HR system.")
            emails = [e.lower() for e in split_multi(r.get("emails", ""))]
            if not emails:
                self.err(L, line, f"emails is empty{f' for {did!r}' if did else ''}.",
                         "give the person's work email (more addresses after ';').")
                bad = True
            for e in emails:
                if not EMAIL_RE.match(e):
                    self.err(L, line, f"{e!r} in emails is not an email address.",
                             "write one address per value, separated by ';' (e.g. ana@acme.com;ana@old.acme.com).")
                    bad = True
                elif e in self.dev_by_email:
                    other = self.dev_by_email[e]
                    self.err(L, line, f"email {e!r} is also given for {other.developer_id!r} (line {other.line}).",
                             "an address belongs to one person: remove it from one row (same person: merge the rows).")
                    bad = True
            d = Developer(developer_id=did, full_name=name, emails=emails, line=line,
                          manager_email=(r.get("manager_email") or "").lower() or None,
                          role=r.get("role") or None, site=r.get("site") or None)
            for col in ("start_date", "end_date"):
                raw = r.get(col, "")
                if raw:
                    val = parse_date(raw)
                    if val is None:
                        self.err(L, line, f"{col} {raw!r} is not a valid date.", DATE_FIX)
                    setattr(d, col, val)
            if d.start_date and d.end_date and d.end_date < d.start_date:
                self.err(L, line, f"end_date {d.end_date} is before start_date {d.start_date}.",
                         "swap the dates or correct the wrong one.")
            if d.manager_email and not EMAIL_RE.match(d.manager_email):
                self.err(L, line, f"manager_email {d.manager_email!r} is not an email address.",
                         "give the manager's work email, or leave it empty for the top of the tree.")
            for col, tool in IDENTITY_COLUMNS.items():
                accts = split_multi(r.get(col, ""))
                d.identities[tool] = accts
                for a in accts:
                    k = (tool, account_key(tool, a))
                    if k in ident_owner and ident_owner[k] is not d:
                        o = ident_owner[k]
                        self.err(L, line, f"{tool} account {a!r} is also listed for {o.developer_id!r} (line {o.line}).",
                                 "an account belongs to one person: remove it from one row "
                                 "(a shared or bot account goes in identity_overrides.csv as 'bot' or 'none').")
                    ident_owner[k] = d
            if bad:
                continue
            self.dev_by_id[did] = d
            for e in emails:
                self.dev_by_email[e] = d
            self.org.developers.append(d)
        # references to managers, and loops in the reporting lines
        for d in self.org.developers:
            m = d.manager_email
            if not m or not EMAIL_RE.match(m):
                continue
            if m in d.emails:
                self.err(L, d.line, f"{d.developer_id!r} is given as their own manager ({m}).",
                         "give the person's manager's email, or leave manager_email empty for the top of the tree.")
            elif m not in self.dev_by_email:
                self.err(L, d.line, f"manager_email {m!r} of {d.developer_id!r} is not the email of any developer "
                                    "in this file.",
                         "add the manager as a row (everyone who manages someone must be listed), or correct the address.")
        self._manager_cycles(L)

    def manager_of(self, d: Developer) -> Developer | None:
        m = d.manager_email
        mgr = self.dev_by_email.get(m) if m else None
        return mgr if mgr is not None and mgr is not d else None

    def _manager_cycles(self, L: str) -> None:
        state: dict[str, int] = {}  # 1 visiting, 2 done
        for start in self.org.developers:
            path: list[Developer] = []
            d = start
            while d is not None and state.get(d.developer_id) is None:
                state[d.developer_id] = 1
                path.append(d)
                d = self.manager_of(d)
            if d is not None and state.get(d.developer_id) == 1:
                cyc = path[path.index(d):]
                first = min(cyc, key=lambda x: x.line)
                chain = " -> ".join(f"{x.primary_email} (line {x.line})" for x in cyc) + f" -> {cyc[0].primary_email}"
                self.err(L, first.line, f"manager cycle: {chain}.",
                         "someone in the loop must report to a person outside it: correct their manager_email.")
            for x in path:
                state[x.developer_id] = 2

    # ---- org_tree_*.csv
    def tree_file(self, f: CsvFile) -> None:
        L = f.label
        stem = Path(L).stem
        default = stem[len("org_tree_"):] if stem.startswith("org_tree_") else stem
        for line, r in f.rows:
            tree = r.get("tree") or default
            if not TREE_NAME_RE.match(tree):
                self.err(L, line, f"tree name {tree!r} is not usable.",
                         "use letters, digits, '-', '_' or '.', starting with a letter or digit (e.g. reporting).")
                continue
            t = self.org.trees.get(tree)
            if t is None:
                t = self.org.trees[tree] = Tree(tree, "file", L)
                self.teams[tree] = {}
            elif t.file != L:
                self.err(L, line, f"tree {tree!r} is already defined in {t.file}.",
                         "put each tree in one file, or give this tree another name in the tree column.")
                continue
            tid, name = r.get("team_id", ""), r.get("team_name", "")
            if not tid:
                self.err(L, line, "team_id is empty.", "give every team an id that is unique within its tree.")
                continue
            if tid in self.teams[tree]:
                self.err(L, line, f"duplicate team_id {tid!r} in tree {tree!r} (first on line {self.teams[tree][tid].line}).",
                         "give each team its own id, or remove the repeated row.")
                continue
            if not name:
                self.err(L, line, f"team_name of {tid!r} is empty.", "give the team a name people recognise.")
            mgr = (r.get("manager_email") or "").lower() or None
            if mgr and mgr not in self.dev_by_email:
                self.err(L, line, f"manager_email {mgr!r} of team {tid!r} is not the email of any developer.",
                         f"add the manager to {self.dev_file or 'the developers file'}, correct the address, "
                         "or leave the cell empty.")
            self.teams[tree][tid] = Team(tree, tid, name, r.get("parent_team_id") or None, mgr, L, line)

    def tree_from_managers(self, name: str, L: str) -> None:
        """One team per person who manages someone (`M-<developer_id>`), under their own
        manager's team; each person is a member of their manager's team, and a manager of
        their own."""
        if not TREE_NAME_RE.match(name):
            self.err("--tree-from-managers", None, f"tree name {name!r} is not usable.",
                     "use letters, digits, '-', '_' or '.', starting with a letter or digit.")
            return
        if name in self.org.trees:
            self.err("--tree-from-managers", None, f"tree {name!r} is also given by {self.org.trees[name].file}.",
                     "use another name for the tree built from manager emails.")
            return
        reports: dict[str, list[Developer]] = {}
        for d in self.org.developers:
            m = self.manager_of(d)
            if m is not None:
                reports.setdefault(m.developer_id, []).append(d)
        if not reports:
            self.err(L, None, f"cannot build tree {name!r} from manager emails: no developer has a manager_email.",
                     "fill the manager_email column, or give the tree as a file with --tree.")
            return
        self.org.trees[name] = Tree(name, "managers", L)
        teams = self.teams[name] = {}
        for mid in reports:
            m = self.dev_by_id[mid]
            boss = self.manager_of(m)
            teams[f"M-{mid}"] = Team(name, f"M-{mid}", f"{m.full_name}'s team",
                                     f"M-{boss.developer_id}" if boss is not None else None, m.primary_email, L, m.line)
        roots = [t for t in teams.values() if t.parent_team_id is None]
        if len(roots) > 1:
            listed = ", ".join(f"{self.dev_by_id[t.team_id[2:]].primary_email} (line {t.line})" for t in roots[:10])
            self.err(L, roots[1].line, f"tree {name!r} from manager emails has {len(roots)} tops: {listed}: these "
                                       "people manage others and have no manager_email.",
                     "give all of them but the top person a manager_email, so there is one top.")
        for d in self.org.developers:
            if d.developer_id in reports:
                self.org.memberships.append(Membership(d.developer_id, name, f"M-{d.developer_id}", source="managers"))
            m = self.manager_of(d)
            if m is not None and d.developer_id not in reports:
                self.org.memberships.append(Membership(d.developer_id, name, f"M-{m.developer_id}", source="managers"))

    def finish_trees(self) -> None:
        """Parents, a single root, no cycles; then depth and path (root/.../team) per team."""
        for tree, teams in self.teams.items():
            t0 = self.org.trees[tree]
            bad = False
            for t in teams.values():
                if t.parent_team_id is not None and t.parent_team_id not in teams:
                    self.err(t.file, t.line, f"parent_team_id {t.parent_team_id!r} of team {t.team_id!r} is not a team "
                                             f"of tree {tree!r}.",
                             "add the parent team as a row of this tree, correct the id, or leave it empty for the "
                             "top team.")
                    bad = True
            roots = [t for t in teams.values() if t.parent_team_id is None]
            if len(roots) > 1 and t0.source == "file":
                listed = ", ".join(f"{t.team_id} (line {t.line})" for t in roots[:10])
                self.err(t0.file, roots[1].line, f"tree {tree!r} has {len(roots)} root teams (no parent_team_id): "
                                                 f"{listed}.",
                         "a tree has one top team: give the others a parent_team_id (add a top team such as "
                         "'Company' if you need one).")
                bad = True
            # cycles: follow parents; a walk that meets itself is a loop
            state: dict[str, int] = {}
            for t in teams.values():
                path, cur = [], t
                while cur is not None and cur.team_id not in state:
                    state[cur.team_id] = 1
                    path.append(cur)
                    cur = teams.get(cur.parent_team_id) if cur.parent_team_id else None
                if cur is not None and state.get(cur.team_id) == 1:
                    cyc = path[path.index(cur):]
                    first = min(cyc, key=lambda x: x.line)
                    chain = " -> ".join(f"{x.team_id} (line {x.line})" for x in cyc) + f" -> {cyc[0].team_id}"
                    if t0.source == "file":  # a loop of managers is reported once, on developers.csv
                        self.err(first.file, first.line, f"cycle in tree {tree!r}: parent chain {chain}.",
                                 "a team cannot be its own ancestor: correct the parent_team_id of one team in the "
                                 "loop.")
                    bad = True
                for x in path:
                    state[x.team_id] = 2
            if not teams:
                self.err(t0.file, None, f"tree {tree!r} has no teams.", "add the tree's teams, one row each.")
                continue
            if bad:
                continue
            t0.root_team_id = roots[0].team_id
            children: dict[str | None, list[Team]] = {}
            for t in teams.values():
                children.setdefault(t.parent_team_id, []).append(t)
            stack = [(roots[0], 0, roots[0].team_id)]
            while stack:
                t, depth, path = stack.pop()
                t.depth, t.path = depth, path
                for c in children.get(t.team_id, []):
                    stack.append((c, depth + 1, f"{path}/{c.team_id}"))
        for teams in self.teams.values():
            self.org.teams.extend(teams.values())

    # ---- memberships.csv
    def memberships(self, f: CsvFile) -> None:
        L = f.label
        seen: dict[tuple[str, str, str], list[Membership]] = {}
        for line, r in f.rows:
            did, tree, tid = r.get("developer_id", ""), r.get("tree", ""), r.get("team_id", "")
            ok = True
            if not did or did not in self.dev_by_id:
                self.err(L, line, f"developer_id {did!r} is not in {self.dev_file}." if did else "developer_id is empty.",
                         "list the person in the developers file, or correct the id.")
                ok = False
            if tree not in self.org.trees:
                known = ", ".join(sorted(self.org.trees)) or "none"
                self.err(L, line, f"tree {tree!r} is not one of the imported trees ({known}).",
                         "correct the tree name, or import that tree with --tree.")
                ok = False
            elif self.org.trees[tree].source == "managers":
                self.err(L, line, f"tree {tree!r} is built from manager emails; its members cannot be listed.",
                         "remove the tree's rows from the memberships file, or give the tree as a file with --tree.")
                ok = False
            elif tid not in self.teams.get(tree, {}):
                self.err(L, line, f"team_id {tid!r} is not a team of tree {tree!r}.",
                         f"add the team to the tree file of {tree!r}, or correct the id.")
                ok = False
            m = Membership(did, tree, tid, file=L, line=line)
            for col in ("valid_from", "valid_to"):
                raw = r.get(col, "")
                if raw:
                    val = parse_date(raw)
                    if val is None:
                        self.err(L, line, f"{col} {raw!r} is not a valid date.", DATE_FIX)
                        ok = False
                    setattr(m, col, val)
                    m.dated = True
            if m.valid_from and m.valid_to and m.valid_to <= m.valid_from:
                self.err(L, line, f"valid_to {m.valid_to} is not after valid_from {m.valid_from}.",
                         "valid_to is the first day the person is no longer in the team (exclusive): make it later "
                         "than valid_from, or leave it empty while they are still in the team.")
                ok = False
            if not ok:
                continue
            for o in seen.get((did, tree, tid), []):
                if _overlap(o, m):
                    self.err(L, line, f"{did!r} is in team {tid!r} of tree {tree!r} twice over the same days "
                                      f"(also line {o.line}).",
                             "remove the repeated row, or make the intervals follow each other (valid_to of the first "
                             "= valid_from of the next).")
                    ok = False
                    break
            if ok:
                seen.setdefault((did, tree, tid), []).append(m)
                self.org.memberships.append(m)

    def implicit_memberships(self) -> None:
        """File trees without membership rows: members from manager emails (a person who
        manages teams of the tree is in them; anyone else is in the teams their manager
        manages)."""
        listed = {m.tree for m in self.org.memberships}
        for name, t in self.org.trees.items():
            if t.source != "file" or name in listed or t.root_team_id is None:
                continue
            managed: dict[str, list[str]] = {}
            for team in self.teams[name].values():
                if team.manager_email:
                    managed.setdefault(team.manager_email, []).append(team.team_id)
            n = 0
            for d in self.org.developers:
                own = [tid for e in d.emails for tid in managed.get(e, [])]
                teams = own or managed.get(d.manager_email or "", [])
                for tid in teams:
                    self.org.memberships.append(Membership(d.developer_id, name, tid, source="managers"))
                n += bool(teams)
            self.warn(t.file, None, f"tree {name!r} has no rows in the memberships file: {n} of "
                                    f"{len(self.org.developers)} developers placed by manager emails.",
                      "list the tree's members in memberships.csv if this is not what you want.")
        placed: dict[str, set[str]] = {}
        for m in self.org.memberships:
            placed.setdefault(m.tree, set()).add(m.developer_id)
        for name, t in self.org.trees.items():
            missing = [d for d in self.org.developers if d.developer_id not in placed.get(name, set())
                       and (d.end_date is None)]
            if missing and t.root_team_id is not None:
                sample = ", ".join(d.developer_id for d in missing[:5])
                self.warn(t.file, None, f"{len(missing)} current developer(s) are in no team of tree {name!r} "
                                        f"(e.g. {sample}).",
                          "add them to memberships.csv if they belong somewhere in this tree.")

    # ---- services.csv
    def services(self, f: CsvFile) -> None:
        L = f.label
        seen: dict[str, int] = {}
        harness: dict[str, tuple[str, int]] = {}
        for line, r in f.rows:
            name, tid, tree = r.get("service", ""), r.get("owning_team_id", ""), r.get("owning_tree", "")
            if not name:
                self.err(L, line, "service is empty.", "give the service's name (as deployments and incidents name it).")
                continue
            if name in seen:
                self.err(L, line, f"duplicate service {name!r} (first on line {seen[name]}).",
                         "keep one row per service; list several repositories in one cell separated by ';'.")
                continue
            seen[name] = line
            if not tid:
                self.err(L, line, f"owning_team_id of service {name!r} is empty.",
                         "give the id of the team that owns the service.")
                continue
            if tree:
                if tree not in self.teams:
                    self.err(L, line, f"owning_tree {tree!r} is not one of the imported trees.",
                             "correct the tree name, or leave it empty.")
                    continue
                trees = [tree] if tid in self.teams[tree] else []
            else:
                trees = [t for t, teams in self.teams.items() if tid in teams]
            if not trees:
                self.err(L, line, f"owning_team_id {tid!r} of service {name!r} is not a team of "
                                  f"{'tree ' + repr(tree) if tree else 'any imported tree'}.",
                         "correct the team id, or import the tree that has it.")
                continue
            if len(trees) > 1:
                self.err(L, line, f"owning_team_id {tid!r} is a team of several trees ({', '.join(trees)}).",
                         "say which one in the owning_tree column.")
                continue
            repos = split_multi(r.get("repositories", ""))
            for repo in repos:
                if not re.match(r"^[^/\s]+/[^/\s]+$", repo):
                    self.err(L, line, f"repository {repo!r} of service {name!r} is not owner/name.",
                             "write repositories as owner/name (e.g. acme/payments-api), separated by ';'.")
            hids = split_multi(r.get("harness_service_ids", ""))
            for h in hids:
                if h in harness:
                    self.err(L, line, f"Harness service id {h!r} is also given for {harness[h][0]!r} "
                                      f"(line {harness[h][1]}).",
                             "a Harness service belongs to one service: remove it from one row.")
                harness[h] = (name, line)
            self.org.services.append(Service(name, trees[0], tid, r.get("project_id") or None, repos, hids, line))

    # ---- identity_overrides.csv
    def overrides(self, f: CsvFile) -> None:
        L = f.label
        seen: dict[tuple[str, str], int] = {}
        for line, r in f.rows:
            tool, acc, did = r.get("tool", "").lower(), r.get("account", ""), r.get("developer_id", "")
            if tool not in TOOLS:
                self.err(L, line, f"tool {r.get('tool', '')!r} is not one of {', '.join(TOOLS)}.",
                         "write github (logins), jira (account ids), harness (user ids or logins) or git "
                         "(commit email addresses).")
                continue
            if not acc:
                self.err(L, line, "account is empty.", "give the tool's login, account id or email.")
                continue
            key = (tool, account_key(tool, acc))
            if key in seen:
                self.err(L, line, f"{tool} account {acc!r} is overridden twice (first on line {seen[key]}).",
                         "keep one row per account.")
                continue
            seen[key] = line
            low = did.lower()
            if not did:
                self.err(L, line, f"developer_id for {tool} account {acc!r} is empty.",
                         "give a developer_id, 'bot' (an automation account) or 'none' (a person we do not track).")
                continue
            if low in (OVERRIDE_BOT, OVERRIDE_NONE):
                self.org.overrides.append(Override(tool, acc, None, low == OVERRIDE_BOT, r.get("note") or None, line))
                continue
            if did not in self.dev_by_id:
                self.err(L, line, f"developer_id {did!r} is not in {self.dev_file}.",
                         "correct the id, or use 'bot' / 'none'.")
                continue
            declared = [d for d in self.org.developers if account_key(tool, acc) in
                        {account_key(tool, a) for a in d.identities.get(tool, [])} and d.developer_id != did]
            if declared:
                self.warn(L, line, f"{tool} account {acc!r} is listed for {declared[0].developer_id!r} in "
                                   f"{self.dev_file}; this override gives it to {did!r}.",
                          "remove it from one of the two files if the override is not meant to win.")
            self.org.overrides.append(Override(tool, acc, did, False, r.get("note") or None, line))


def _overlap(a: Membership, b: Membership) -> bool:
    lo = dt.date.min
    hi = dt.date.max
    return (a.valid_from or lo) < (b.valid_to or hi) and (b.valid_from or lo) < (a.valid_to or hi)
