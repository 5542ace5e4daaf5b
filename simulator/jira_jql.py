"""JQL as Jira parses it: a tokenizer, a recursive-descent parser with Jira's error wording,
and an evaluator over the per-clock index (which issues match, in which order).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.http import JIRA_EMAIL
from simulator.jira_resources import _priority
from simulator.jira_state import (CATEGORIES, Ctx, ISSUE_TYPES, PRIORITIES, RESOLUTIONS, SERVICE_ACCOUNT_ID,
                                  SEVERITY_OPTIONS, STATUSES)


# --------------------------------------------------------------------------- JQL
class JqlError(Exception):
    def __init__(self, *messages: str):
        super().__init__(messages[0])
        self.messages = list(messages)


OPERATORS = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC", "WAS", "CHANGED"}
STOP = set("()=,!<>~\"'")


@dataclass
class Tok:
    kind: str   # word, str, op, lp, rp, comma, eof
    text: str
    pos: int    # 1-based character

    def show(self) -> str:
        return self.text

    def kw(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def tokenize(s: str) -> list[Tok]:
    toks, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch.isspace():
            i += 1
            continue
        start = i + 1
        if ch in "()":
            toks.append(Tok("lp" if ch == "(" else "rp", ch, start))
            i += 1
        elif ch == ",":
            toks.append(Tok("comma", ch, start))
            i += 1
        elif ch in "\"'":
            buf, i = [], i + 1
            while i < n and s[i] != ch:
                if s[i] == "\\" and i + 1 < n:
                    buf.append(s[i + 1])
                    i += 2
                else:
                    buf.append(s[i])
                    i += 1
            if i >= n:
                raise JqlError(f"Error in the JQL Query: The quoted string '{''.join(buf)}' has not been completed. "
                               f"(line 1, character {start})")
            toks.append(Tok("str", "".join(buf), start))
            i += 1
        elif s.startswith(("!=", "<=", ">=", "!~"), i):
            toks.append(Tok("op", s[i:i + 2], start))
            i += 2
        elif s.startswith(("&&", "||"), i):
            toks.append(Tok("word", "AND" if ch == "&" else "OR", start))
            i += 2
        elif ch in "=<>~":
            toks.append(Tok("op", ch, start))
            i += 1
        elif ch == "!":
            toks.append(Tok("word", "NOT", start))
            i += 1
        else:
            j = i
            while j < n and not s[j].isspace() and s[j] not in STOP:
                j += 1
            toks.append(Tok("word", s[i:j], start))
            i = j
    toks.append(Tok("eof", "", len(s) + 1))
    return toks


# AST: ("and", [nodes]) ("or", [nodes]) ("not", node) ("clause", field, op, operand, pos)
# operand: ("value", text, pos) ("list", [operands]) ("func", name, [args], pos) ("empty",)
class Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0

    @property
    def t(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self):
        where = None
        if not (self.t.kind == "eof" or self.t.kw("ORDER")):
            where = self.or_expr()
        order = []
        if self.t.kw("ORDER"):
            self.next()
            if not self.t.kw("BY"):
                raise self._expect("'by'")
            self.next()
            order = self.sort_list()
        if self.t.kind != "eof":
            raise self._expect("either 'OR' or 'AND'")
        return where, order

    def _expect(self, what: str, extra: str = "") -> JqlError:
        t = self.t
        tail = f" {extra}" if extra else ""
        if t.kind == "eof":
            return JqlError(f"Error in the JQL Query: Expecting {what} before the end of the query.{tail}")
        return JqlError(f"Error in the JQL Query: Expecting {what} but got '{t.show()}'.{tail} "
                        f"(line 1, character {t.pos})")

    def or_expr(self):
        nodes = [self.and_expr()]
        while self.t.kw("OR"):
            self.next()
            nodes.append(self.and_expr())
        return nodes[0] if len(nodes) == 1 else ("or", nodes)

    def and_expr(self):
        nodes = [self.not_expr()]
        while self.t.kw("AND"):
            self.next()
            nodes.append(self.not_expr())
        return nodes[0] if len(nodes) == 1 else ("and", nodes)

    def not_expr(self):
        if self.t.kw("NOT"):
            self.next()
            return ("not", self.not_expr())
        if self.t.kind == "lp":
            self.next()
            node = self.or_expr()
            if self.t.kind != "rp":
                raise self._expect("')'")
            self.next()
            return node
        return self.clause()

    def clause(self):
        t = self.t
        if t.kind not in ("word", "str") or (t.kind == "word" and t.text.upper() in KEYWORDS):
            raise self._expect("a field name")
        self.next()
        fld, fpos = t.text, t.pos
        op = self.operator()
        operand = self.operand(op)
        return ("clause", fld, op, operand, fpos)

    def operator(self) -> str:
        t = self.t
        if t.kind == "op":
            self.next()
            return t.text
        if t.kw("IN"):
            self.next()
            return "IN"
        if t.kw("NOT"):
            self.next()
            if self.t.kw("IN"):
                self.next()
                return "NOT IN"
            raise self._expect("'IN'")
        if t.kw("IS"):
            self.next()
            if self.t.kw("NOT"):
                self.next()
                return "IS NOT"
            return "IS"
        if t.kw("WAS", "CHANGED"):
            raise JqlError(f"The operator '{t.text.upper()}' is not supported by this simulator's JQL.")
        raise self._expect("operator", OPERATORS)

    def operand(self, op: str):
        t = self.t
        if op in ("IS", "IS NOT"):
            if t.kw("EMPTY", "NULL"):
                self.next()
                return ("empty",)
            raise self._expect("'EMPTY'")
        if t.kind == "lp":
            self.next()
            items = [self.operand("=")]
            while self.t.kind == "comma":
                self.next()
                items.append(self.operand("="))
            if self.t.kind != "rp":
                raise self._expect("')'")
            self.next()
            return ("list", items)
        if t.kw("EMPTY", "NULL"):
            self.next()
            return ("empty",)
        if t.kind == "str":
            self.next()
            return ("value", t.text, t.pos)
        if t.kind == "word" and t.text.upper() not in KEYWORDS:
            self.next()
            if self.t.kind == "lp":  # a function call
                self.next()
                args = []
                while self.t.kind != "rp":
                    a = self.next()
                    if a.kind not in ("word", "str"):
                        self.i -= 1
                        raise self._expect("')'")
                    args.append(a.text)
                    if self.t.kind == "comma":
                        self.next()
                self.next()
                return ("func", t.text, args, t.pos)
            return ("value", t.text, t.pos)
        raise self._expect("either a value, list or function")

    def sort_list(self):
        out = []
        while True:
            t = self.t
            if t.kind not in ("word", "str") or (t.kind == "word" and t.text.upper() in KEYWORDS):
                raise self._expect("a field name")
            self.next()
            direction = None
            if self.t.kw("ASC", "DESC"):
                direction = self.next().text.upper()
            out.append((t.text, direction, t.pos))
            if self.t.kind != "comma":
                return out
            self.next()


# Clause names -> canonical field; value kinds
CLAUSES = {
    "project": "project", "key": "issuekey", "issuekey": "issuekey", "id": "issuekey", "issue": "issuekey",
    "updated": "updated", "updateddate": "updated", "created": "created", "createddate": "created",
    "resolved": "resolved", "resolutiondate": "resolved", "issuetype": "issuetype", "type": "issuetype",
    "status": "status", "statuscategory": "statuscategory", "resolution": "resolution", "labels": "labels",
    "component": "component", "sprint": "sprint", "cf[10020]": "sprint", "assignee": "assignee",
    "reporter": "reporter", "creator": "reporter", "parent": "parent", "summary": "summary", "text": "text",
    "priority": "priority", "cf[10016]": "points", "story point estimate": "points", "story points": "points",
    "cf[10050]": "severity", "severity": "severity",
}
DATE_FIELDS = {"updated", "created", "resolved"}
LIST_OPS = {"=", "!=", "IN", "NOT IN", "IS", "IS NOT"}
SUPPORTED_OPS = {
    "project": LIST_OPS, "issuekey": LIST_OPS | {"<", ">", "<=", ">="},
    "updated": {"=", "!=", "<", ">", "<=", ">=", "IN", "NOT IN", "IS", "IS NOT"},
    "issuetype": LIST_OPS, "status": LIST_OPS, "statuscategory": LIST_OPS, "resolution": LIST_OPS,
    "labels": LIST_OPS, "component": LIST_OPS, "sprint": LIST_OPS, "assignee": LIST_OPS, "reporter": LIST_OPS,
    "parent": LIST_OPS, "summary": {"~", "!~", "IS", "IS NOT"}, "text": {"~"},
    "priority": LIST_OPS | {"<", ">", "<=", ">="}, "points": LIST_OPS | {"<", ">", "<=", ">="},
    "severity": LIST_OPS,
}
SUPPORTED_OPS["created"] = SUPPORTED_OPS["resolved"] = SUPPORTED_OPS["updated"]
SORTS = {"updated": "updated", "updateddate": "updated", "created": "created", "createddate": "created",
         "resolved": "resolved", "resolutiondate": "resolved", "key": "key", "issuekey": "key", "id": "key",
         "project": "project", "status": "status", "issuetype": "type", "type": "type", "priority": "priority",
         "summary": "summary", "rank": "rank"}
DATE_HELP = ("Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
             "or a period format e.g. '-5d', '4w 2d'.")
PERIOD = re.compile(r"^\s*([+-])?\s*((?:\d+\s*[yMwdhm]\s*)+)$")
UNIT_S = {"y": 365 * 86400, "M": 30 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


class Evaluator:
    """Evaluates a parsed JQL tree to a boolean mask over the issues as of now; semantic
    problems (unknown fields, values, operators) are collected like Jira does."""

    def __init__(self, c: Ctx):
        self.c, self.idx, self.errors = c, c.idx, []
        self.n = len(c.idx.iss)

    def mask(self, node) -> np.ndarray:
        kind = node[0]
        if kind == "and":
            m = np.ones(self.n, bool)
            for sub in node[1]:
                m &= self.mask(sub)
            return m
        if kind == "or":
            m = np.zeros(self.n, bool)
            for sub in node[1]:
                m |= self.mask(sub)
            return m
        if kind == "not":
            return ~self.mask(node[1])
        return self.clause(*node[1:])

    def none(self) -> np.ndarray:
        return np.zeros(self.n, bool)

    # ---- one clause
    def clause(self, name: str, op: str, operand, pos: int) -> np.ndarray:
        f = CLAUSES.get(name.lower())
        if f is None:
            self.errors.append(f"Field '{name}' does not exist or you do not have permission to view it.")
            return self.none()
        if op not in SUPPORTED_OPS[f]:
            self.errors.append(f"The operator '{op}' is not supported by the '{name}' field.")
            return self.none()
        if operand[0] == "list" and op not in ("IN", "NOT IN"):
            self.errors.append(f"The operator '{op}' does not support the list of values.")
            return self.none()
        if op in ("IN", "NOT IN") and operand[0] != "list":
            operand = ("list", [operand])
        if f in DATE_FIELDS:
            return self.date_clause(f, name, op, operand)
        if f in ("summary", "text"):
            return self.text_clause(name, op, operand)
        values, has_empty = self.values(f, name, operand)
        present = self.present(f)
        if op in ("<", ">", "<=", ">="):
            return self.range_clause(f, name, op, values)
        if op in ("=", "IN", "IS"):
            m = self.match_any(f, values)
            return m | ~present if has_empty else m
        # !=, NOT IN, IS NOT: an empty field never matches a negative comparison
        return present & ~self.match_any(f, values)

    def operands(self, operand) -> list:
        return operand[1] if operand[0] == "list" else [operand]

    def values(self, f: str, name: str, operand) -> tuple[list, bool]:
        """Resolve each operand to the values stored for field f."""
        out, empty = [], False
        for o in self.operands(operand):
            if o[0] == "empty":
                empty = True
                continue
            if o[0] == "func":
                out.extend(self.func_values(f, name, o))
                continue
            v = self.resolve(f, name, o[1])
            if v is not None:
                out.append(v)
        return out, empty

    def func_values(self, f: str, name: str, o) -> list:
        fn = o[1].lower()
        idx = self.idx
        if f == "sprint" and fn in ("opensprints", "closedsprints", "futuresprints"):
            state = {"opensprints": "active", "closedsprints": "closed", "futuresprints": "future"}[fn]
            return [int(s) for s in idx.sprints_now.index[idx.sprints_now.state == state]]
        if f in ("assignee", "reporter") and fn == "currentuser":
            return [SERVICE_ACCOUNT_ID]
        if f == "issuetype" and fn == "standardissuetypes":
            return [t for t, v in ISSUE_TYPES.items() if not v[2]]
        if f == "issuetype" and fn == "subtaskissuetypes":
            return [t for t, v in ISSUE_TYPES.items() if v[2]]
        self.errors.append(f"Unable to find JQL function '{o[1]}({', '.join(o[2])})'.")
        return []

    def _missing(self, name: str, v: str):
        self.errors.append(f"The value '{v}' does not exist for the field '{name}'.")

    def resolve(self, f: str, name: str, v: str):
        idx, lv = self.idx, v.lower()
        if f == "project":
            p = idx.projects
            hit = p[(p.jira_key.str.lower() == lv) | (p.jira_id.astype(str) == v) | (p["name"].str.lower() == lv)]
            if hit.empty:
                return self._missing(name, v)
            return hit.jira_key.iloc[0]
        if f == "issuekey" or f == "parent":
            p = idx.pos_of_key.get(v.upper(), idx.pos_of_id.get(v))
            if p is None:
                if f == "issuekey" and not re.match(r"^[A-Za-z][A-Za-z0-9_]*-\d+$|^\d+$", v):
                    self.errors.append(f"The issue key '{v}' for field '{name}' is invalid.")
                elif f == "issuekey":
                    self.errors.append(f"An issue with key '{v}' does not exist for field '{name}'.")
                else:
                    self._missing(name, v)
                return None
            return p
        if f == "issuetype":
            for t, (tid, _, _) in ISSUE_TYPES.items():
                if lv == t.lower() or v == tid or (lv in ("subtask", "sub task") and t == "Sub-task"):
                    return t
            return self._missing(name, v)
        if f == "status":
            for s, (sid, _) in STATUSES.items():
                if lv == s.lower() or v == sid:
                    return s
            return self._missing(name, v)
        if f == "statuscategory":
            for k, (cid, cname, _) in CATEGORIES.items():
                if lv in (k, cname.lower()) or v == str(cid):
                    return k
            return self._missing(name, v)
        if f == "resolution":
            if lv == "unresolved":
                return "__unresolved__"
            for r, (rid, _) in RESOLUTIONS.items():
                if lv == r.lower() or v == rid:
                    return r
            return self._missing(name, v)
        if f == "labels":
            return v
        if f == "component":
            names = {n.lower(): n for (_, n) in idx.components}
            ids = {cid: n for (_, n), cid in idx.components.items()}
            if lv in names:
                return names[lv]
            if v in ids:
                return ids[v]
            return self._missing(name, v)
        if f == "sprint":
            if v.isdigit() and int(v) in idx.sprints_now.index:
                return int(v)
            hit = idx.sprints_now.index[idx.sprints_now["name"].str.lower() == lv]
            if len(hit):
                return int(hit[0])
            return self._missing(name, v)
        if f in ("assignee", "reporter"):
            for acc, u in idx.users.items():
                if v == acc or lv in ((u["email"] or "").lower(), u["name"].lower(), u["key"].lower(),
                                      u["display"].lower()):
                    return acc
            if v == SERVICE_ACCOUNT_ID or lv in (JIRA_EMAIL, "sei"):
                return SERVICE_ACCOUNT_ID
            return self._missing(name, v)
        if f == "priority":
            for pname, pid in PRIORITIES.items():
                if lv == pname.lower() or v == pid:
                    return pname
            return self._missing(name, v)
        if f == "points":
            try:
                return float(v)
            except ValueError:
                self.errors.append(f"The value '{v}' is not a valid number for the field '{name}'.")
                return None
        if f == "severity":
            for s, oid in SEVERITY_OPTIONS.items():
                if lv == s.lower() or v == oid:
                    return s
            return self._missing(name, v)
        raise AssertionError(f)

    def present(self, f: str) -> np.ndarray:
        iss, idx = self.idx.iss, self.idx
        if f == "resolution":
            return iss.status.isin(list(RESOLUTIONS)).to_numpy()
        if f == "labels":
            return np.array([bool(x) for x in idx.labels])
        if f == "component":
            return iss.component.fillna("").astype(str).str.len().to_numpy() > 0
        if f == "sprint":
            return np.array([len(x) > 0 for x in iss.sprint_ids])
        if f in ("assignee", "reporter"):
            return (idx.assignee_acc if f == "assignee" else idx.reporter_acc) != ""
        if f == "parent":
            return iss.parent_ix.to_numpy() >= 0
        if f == "points":
            return iss.points_now.notna().to_numpy()
        if f == "severity":
            return iss.severity.notna().to_numpy()
        return np.ones(self.n, bool)

    def match_any(self, f: str, values: list) -> np.ndarray:
        iss, idx = self.idx.iss, self.idx
        if not values:
            return self.none()
        if f == "project":
            return np.isin(idx.project_key, values)
        if f == "issuekey":
            m = self.none()
            m[values] = True
            return m
        if f == "parent":
            par_ix = [int(iss.index[p]) for p in values]
            return np.isin(iss.parent_ix.to_numpy(), par_ix)
        if f == "issuetype":
            return iss.type.isin(values).to_numpy()
        if f == "status":
            return iss.status.isin(values).to_numpy()
        if f == "statuscategory":
            return np.isin(idx.status_cat, values)
        if f == "resolution":
            m = iss.status.isin([v for v in values if v != "__unresolved__"]).to_numpy()
            if "__unresolved__" in values:
                m = m | ~iss.status.isin(list(RESOLUTIONS)).to_numpy()
            return m
        if f == "labels":
            want = {v.lower() for v in values}
            return np.array([bool({x.lower() for x in s} & want) for s in idx.labels])
        if f == "component":
            return iss.component.isin(values).to_numpy()
        if f == "sprint":
            want = set(values)
            return np.array([bool(want.intersection(x)) for x in iss.sprint_ids])
        if f in ("assignee", "reporter"):
            return np.isin(idx.assignee_acc if f == "assignee" else idx.reporter_acc, values)
        if f == "priority":
            pr = np.array([_priority(self.c, p) for p in range(self.n)], dtype=object)
            return np.isin(pr, values)
        if f == "points":
            return iss.points_now.isin(values).to_numpy()
        if f == "severity":
            return iss.severity.isin(values).to_numpy()
        raise AssertionError(f)

    def range_clause(self, f: str, name: str, op: str, values: list) -> np.ndarray:
        if len(values) != 1:
            return self.none()
        v = values[0]
        cmp = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}[op]
        iss = self.idx.iss
        if f == "issuekey":
            same = self.idx.project_key == self.idx.project_key[v]
            return same & cmp(iss.key_num.to_numpy(), iss.key_num.iat[v])
        if f == "points":
            pts = iss.points_now.to_numpy()
            return ~np.isnan(pts) & cmp(np.nan_to_num(pts, nan=-1.0), v)
        if f == "priority":
            rank = {n: i for i, n in enumerate(PRIORITIES)}  # Highest first
            pr = np.array([rank[_priority(self.c, p)] for p in range(self.n)])
            return cmp(-pr, -rank[v])
        return self.none()

    # ---- dates
    def date_value(self, name: str, o) -> int | None:
        now = self.c.now
        if o[0] == "func":
            fn, args = o[1].lower(), o[2]
            day = now // 86400 * 86400
            wd = (now // 86400 + 4) % 7  # days since Sunday (1970-01-01 was a Thursday)
            d = dt.datetime.fromtimestamp(now, dt.timezone.utc)
            starts = {"now": now, "startofday": day, "endofday": day + 86399,
                      "startofweek": day - wd * 86400, "endofweek": day + (6 - wd) * 86400 + 86399,
                      "startofmonth": int(dt.datetime(d.year, d.month, 1, tzinfo=dt.timezone.utc).timestamp()),
                      "startofyear": int(dt.datetime(d.year, 1, 1, tzinfo=dt.timezone.utc).timestamp())}
            if fn == "endofmonth":
                nm = dt.datetime(d.year + d.month // 12, d.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
                starts[fn] = int(nm.timestamp()) - 1
            if fn == "endofyear":
                starts[fn] = int(dt.datetime(d.year + 1, 1, 1, tzinfo=dt.timezone.utc).timestamp()) - 1
            if fn not in starts:
                self.errors.append(f"Unable to find JQL function '{o[1]}({', '.join(args)})'.")
                return None
            t = starts[fn]
            if args and fn != "now":
                off = self.period(args[0])
                if off is None:
                    self.errors.append(f"Invalid increment '{args[0]}' for function '{o[1]}'.")
                    return None
                t += off
            return t
        v = o[1].strip()
        for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
            try:
                return int(dt.datetime.strptime(v, fmt).replace(tzinfo=dt.timezone.utc).timestamp())
            except ValueError:
                pass
        off = self.period(v)
        if off is not None:
            return now + off
        self.errors.append(f"Date value '{o[1]}' for field '{name}' is invalid. {DATE_HELP}")
        return None

    @staticmethod
    def period(v: str) -> int | None:
        m = PERIOD.match(v)
        if not m:
            return None
        total = sum(int(n) * UNIT_S[u] for n, u in re.findall(r"(\d+)\s*([yMwdhm])", m.group(2)))
        return -total if m.group(1) == "-" else total

    def date_clause(self, f: str, name: str, op: str, operand) -> np.ndarray:
        iss = self.idx.iss
        col = {"updated": iss.updated_at, "created": iss.created_at, "resolved": iss.resolved_at_now}[f].to_numpy()
        present = col >= 0
        if op in ("IS", "IS NOT"):
            return ~present if op == "IS" else present
        ts = []
        empty = False
        for o in self.operands(operand):
            if o[0] == "empty":
                empty = True
                continue
            t = self.date_value(name, o)
            if t is not None:
                ts.append(t)
        if op in ("=", "!=", "IN", "NOT IN"):
            m = np.isin(col, ts) & present
            if empty:
                m |= ~present
            return m if op in ("=", "IN") else (present & ~m)
        if not ts:
            return self.none()
        cmp = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}[op]
        return present & cmp(col, ts[0])

    def text_clause(self, name: str, op: str, operand) -> np.ndarray:
        iss = self.idx.iss
        if op in ("IS", "IS NOT"):
            return self.none() if op == "IS" else np.ones(self.n, bool)
        words = [o[1] for o in self.operands(operand) if o[0] == "value"]
        text = iss.summary.str.lower()
        m = np.ones(self.n, bool)
        for wd in words:
            for part in wd.lower().replace("*", "").split():
                m &= text.str.contains(part, regex=False).to_numpy()
        return m if op == "~" else ~m

    # ---- order
    def order(self, order: list, m: np.ndarray) -> np.ndarray:
        """Positions of the matching issues in the requested order (default: key DESC)."""
        iss, idx = self.idx.iss, self.idx
        pos = np.flatnonzero(m)
        if not order:
            order = [("key", "DESC", 0)]
        keys = []
        for name, direction, _ in order:
            s = SORTS.get(name.lower())
            if s is None:
                self.errors.append(f"Not able to sort using field '{name}'.")
                continue
            desc = direction == "DESC" if direction else s in ("updated", "created", "resolved")
            if s in ("updated", "created", "resolved"):
                col = {"updated": "updated_at", "created": "created_at", "resolved": "resolved_at_now"}[s]
                cols = [iss[col].to_numpy()[pos]]
            elif s in ("key", "project"):
                pk = pd.Series(idx.project_key[pos]).rank(method="dense").to_numpy()
                cols = [pk] if s == "project" else [pk, iss.key_num.to_numpy()[pos]]
            elif s == "rank":
                cols = [iss.issue_id.to_numpy()[pos]]
            elif s == "status":
                cols = [np.array([list(STATUSES).index(x) for x in iss.status.to_numpy()[pos]])]
            elif s == "type":
                cols = [pd.Series(iss.type.to_numpy()[pos]).rank(method="dense").to_numpy()]
            elif s == "priority":
                rank = {n: i for i, n in enumerate(PRIORITIES)}
                cols = [np.array([-rank[_priority(self.c, p)] for p in pos])]
            else:
                cols = [pd.Series(iss.summary.to_numpy()[pos]).rank(method="dense").to_numpy()]
            keys.extend((np.asarray(c_, dtype=float), desc) for c_ in cols)
        keys.append((iss.issue_id.to_numpy()[pos].astype(float), False))
        # np.lexsort sorts by the last key first
        arrs = [(-k if desc else k) for k, desc in reversed(keys)]
        return pos[np.lexsort(arrs)]


def run_jql(c: Ctx, jql: str, *, require_bound: bool) -> np.ndarray:
    """Matching issue positions in JQL order; raises JqlError with Jira's messages."""
    where, order = Parser(jql or "").parse()
    if require_bound and where is None:
        raise JqlError("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
    ev = Evaluator(c)
    m = ev.mask(where) if where is not None else np.ones(ev.n, bool)
    out = ev.order(order, m)
    if ev.errors:
        raise JqlError(*ev.errors)
    return out
