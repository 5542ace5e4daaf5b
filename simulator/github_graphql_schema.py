"""GitHub's GraphQL schema and rules, for a simulator that must accept exactly what
api.github.com accepts and charge what it charges.

Usage by the HTTP layer::

    prepared = prepare(body["query"], body.get("variables"), body.get("operationName"))
    if prepared.errors:                       # request-level: nothing runs, nothing charged
        return 200, {"errors": prepared.errors}
    charge(0 if prepared.dry_run else prepared.cost)
    return 200, execute(prepared, root_value)

Sources for the GitHub behaviour reproduced here:

* Limits and cost formula: docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
  (formerly .../rate-limits-and-node-limits-for-the-graphql-api; github/docs
  content/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api.md).
* Error texts and ``type`` values: responses captured from api.github.com quoted in public
  code (MISSING_PAGINATION_BOUNDARIES, EXCESSIVE_PAGINATION with ``path`` and
  ``locations``; MAX_NODE_LIMIT_EXCEEDED in both wordings; ``undefinedField`` validation
  errors with a ``"query"``-rooted path and no ``data`` key).

Resolvers (the simulator's data layer)
--------------------------------------
Execution uses graphql-core's default resolver: for a ``dict`` source it reads
``source.get(<schema field name>)`` (aliases are applied by graphql-core, never by the
data), for other objects ``getattr``. If that value is callable it is called as
``value(info, **arguments)``, with arguments under their schema names (``first``,
``after``, ``orderBy`` ...), defaults from the schema filled in, enum arguments as their
names (``states=["MERGED"]``) and input objects as plain dicts. So:

* a field with arguments is a callable: ``{"repository": lambda info, owner, name, **_: ...}``
  (accept ``**_`` so arguments GitHub adds later do not break the simulator);
* a scalar is a plain value: ``str``/``int``/``bool``/``float``/``None``. Custom scalars
  (``DateTime``, ``GitObjectID``, ``URI``, ``HTML`` ...) pass through unchanged, so give
  them already-formatted strings (``"2024-05-01T12:00:00Z"``);
* an enum is its name as a string (``"MERGED"`` for ``PullRequestState``,
  ``"APPROVED"`` for ``PullRequestReviewState``); anything else is a field error;
* a value of interface or union type (``author: Actor``, ``search`` nodes, ``Node``)
  must be a dict carrying ``"__typename": "User"`` so graphql-core can pick the type;
* a connection resolver must itself honour ``first``/``last``/``after``/``before``;
  this module only checks their bounds (see below) and does not slice lists;
* a resolver may raise :class:`GitHubError` (e.g. ``GitHubError("Could not resolve to
  a Repository with the name 'o/r'.", "NOT_FOUND")``) to produce GitHub's field error.

``rateLimit`` is an ordinary root field: supply a callable that reads
``prepared.cost`` / ``prepared.node_count`` (close over the Prepared object or pass it as
``context``).
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    BooleanValueNode,
    get_location,
    print_ast,
    OperationDefinitionNode,
    VariableNode,
    build_schema,
    get_named_type,
    parse,
    validate,
)
from graphql.execution import execute as gql_execute
from graphql.execution.execute import ExecutionContext, default_field_resolver, get_field_def
from graphql.execution.values import get_argument_values
from graphql.pyutils import Undefined
from graphql.error import located_error
from graphql.type import GraphQLList, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.execution.values import get_variable_values

__all__ = ["GitHubError", "Prepared", "get_schema", "prepare", "execute", "schema_path"]

SCHEMA_ENV = "SEI_GITHUB_SCHEMA"
MAX_PAGE_SIZE = 100
MAX_NODES = 500_000
# GitHub's documented assumption is that "every request will reach the first or last
# argument limits"; a connection with neither is an error at execution time, but the
# static cost and node count still need a number for it, so take the limit.
_UNBOUNDED_SIZE = MAX_PAGE_SIZE


class GitHubError(Exception):
    """A field error with GitHub's top-level ``type`` (NOT_FOUND, FORBIDDEN, ...)."""

    def __init__(self, message: str, type: str | None = None) -> None:  # noqa: A002
        super().__init__(message)
        self.type = type


# --------------------------------------------------------------------------- schema
def schema_path() -> Path:
    """GitHub's public schema (octokit/graphql-schema, MIT) ships with the simulator;
    SEI_GITHUB_SCHEMA points at a newer copy."""
    env = os.environ.get(SCHEMA_ENV)
    candidate = Path(env) if env else Path(__file__).resolve().parent / "github_schema" / "schema.graphql"
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(
        f"GitHub GraphQL schema not found at {candidate}; set {SCHEMA_ENV} to the path of "
        "GitHub's public schema.graphql (docs.github.com/en/graphql/overview/public-schema)"
    )


@lru_cache(maxsize=1)
def get_schema() -> GraphQLSchema:
    # assume_valid_sdl: the published SDL repeats two enterprise fields, which strict SDL
    # validation rejects although the resulting schema is fine. Building takes ~1 s.
    return build_schema(schema_path().read_text(encoding="utf-8"), assume_valid_sdl=True)


# --------------------------------------------------------------------------- plan
@dataclass(eq=False)
class _Conn:
    """One connection field in the (fragment-expanded) query, with its nested connections."""

    name: str
    first: Any  # int | ("$", variable name) | None
    last: Any
    nodes: list[FieldNode]  # every AST node merged into this field (fragments repeat them)
    children: list["_Conn"] = field(default_factory=list)


@dataclass
class _OpPlan:
    operation: OperationDefinitionNode
    connections: list[_Conn]
    dry_run: Any  # bool | ("$", name)


@dataclass
class _Compiled:
    document: Any
    errors: list[dict]
    plans: dict = field(default_factory=dict)  # operation name -> _OpPlan | list[error]


def _arg(node: FieldNode, name: str) -> Any:
    for a in node.arguments:
        if a.name.value == name:
            v = a.value
            if isinstance(v, VariableNode):
                return ("$", v.name.value)
            if isinstance(v, (IntValueNode, BooleanValueNode)):
                return int(v.value) if isinstance(v, IntValueNode) else v.value
            return None  # `null` literal: same as absent
    return None


def _collect(selection_set, parent, fragments, out: "OrderedDict[tuple, list]") -> None:
    """Group fields by (type they are looked up on, response key), expanding fragments.

    Static, so every type condition is taken: GitHub prices what a query *may* return.
    Grouping by response key mirrors GraphQL field merging, which is why a fragment that
    repeats a field costs nothing extra while an alias (`a: commits`, `b: commits`) does.
    """
    schema = get_schema()
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            key = (parent.name, sel.alias.value if sel.alias else sel.name.value)
            out.setdefault(key, []).append((parent, sel))
        else:
            if isinstance(sel, FragmentSpreadNode):
                frag = fragments.get(sel.name.value)
                if frag is None:
                    continue
                cond, sub = frag.type_condition, frag.selection_set
            else:  # InlineFragmentNode
                cond, sub = sel.type_condition, sel.selection_set
            t = schema.type_map.get(cond.name.value) if cond else parent
            if t is not None:
                _collect(sub, t, fragments, out)


def _plan(selection_sets, parent, fragments) -> list[_Conn]:
    grouped: OrderedDict[tuple, list] = OrderedDict()
    for selection_set in selection_sets:
        _collect(selection_set, parent, fragments, grouped)
    conns: list[_Conn] = []
    for entries in grouped.values():
        parent_type, node = entries[0]
        fdef = getattr(parent_type, "fields", {}).get(node.name.value)
        if fdef is None:  # __typename and friends
            continue
        rtype = get_named_type(fdef.type)
        nodes = [n for _, n in entries]
        # plan the merged sub-selections together, so a nested connection repeated by a
        # fragment is still one connection
        children = _plan([n.selection_set for n in nodes if n.selection_set], rtype, fragments)
        if (
            isinstance(rtype, GraphQLObjectType)
            and rtype.name.endswith("Connection")
            and ("first" in fdef.args or "last" in fdef.args)
        ):
            conns.append(_Conn(node.name.value, _arg(node, "first"), _arg(node, "last"), nodes, children))
        else:
            conns.extend(children)  # objects between connections (nodes, edges, node) do not multiply
    return conns


def _dry_run_spec(operation) -> Any:
    for sel in operation.selection_set.selections:
        if isinstance(sel, FieldNode) and sel.name.value == "rateLimit":
            return _arg(sel, "dryRun") or False
    return False


# --------------------------------------------------------------------------- error rendering
def _loc(err_or_node) -> list[dict]:
    if isinstance(err_or_node, GraphQLError):
        return [{"line": l.line, "column": l.column} for l in (err_or_node.locations or [])]
    loc = err_or_node.loc
    if loc is None:
        return []
    sl = get_location(loc.source, loc.start)
    return [{"line": sl.line, "column": sl.column}]


def _op_label(op: OperationDefinitionNode) -> str:
    kind = op.operation.value
    return f"{kind} {op.name.value}" if op.name else kind


def _static_paths(document) -> dict[int, list]:
    """AST node id -> graphql-ruby validation path (["query", "repository", "foo"])."""
    paths: dict[int, list] = {}

    def walk(node, path):
        paths[id(node)] = path
        for a in getattr(node, "arguments", None) or ():
            paths[id(a)] = path
            paths[id(a.value)] = path
        for d in getattr(node, "variable_definitions", None) or ():
            paths[id(d)] = path
        sel_set = getattr(node, "selection_set", None)
        if sel_set:
            paths[id(sel_set)] = path
        for sel in sel_set.selections if sel_set else ():
            if isinstance(sel, FieldNode):
                walk(sel, path + [sel.alias.value if sel.alias else sel.name.value])
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                walk(sel, path + [f"... on {cond.name.value}" if cond else "..."])
            else:
                paths[id(sel)] = path + [f"... {sel.name.value}"]

    for d in document.definitions:
        if isinstance(d, OperationDefinitionNode):
            walk(d, [_op_label(d)])
        elif isinstance(d, FragmentDefinitionNode):
            walk(d, [f"fragment {d.name.value}"])
    return paths


_VALIDATION_RULES: list[tuple[re.Pattern, Any]] = [
    (re.compile(r"Cannot query field '(\w+)' on type '(\w+)'\."),
     lambda m: (f"Field '{m[1]}' doesn't exist on type '{m[2]}'",
                {"code": "undefinedField", "typeName": m[2], "fieldName": m[1]})),
    (re.compile(r"Unknown argument '(\w+)' on field '\w+\.(\w+)'\."),
     lambda m: (f"Field '{m[2]}' doesn't accept argument '{m[1]}'",
                {"code": "argumentNotAccepted", "name": m[2], "typeName": "Field", "argumentName": m[1]})),
    (re.compile(r"Field '(\w+)' argument '(\w+)' of type '.+' is required, but it was not provided\."),
     lambda m: (f"Field '{m[1]}' is missing required arguments: {m[2]}",
                {"code": "missingRequiredArguments", "className": "Field", "name": m[1], "arguments": m[2]})),
    (re.compile(r"Field '(\w+)' of type '\W*(\w+)\W*' must have a selection of subfields"),
     lambda m: (f"Field must have selections (field '{m[1]}' returns {m[2]} but has no selections. "
                f"Did you mean '{m[1]} {{ ... }}'?)",
                {"code": "selectionMismatch", "nodeName": f"field '{m[1]}'", "typeName": m[2]})),
    (re.compile(r"Field '(\w+)' must not have a selection since type '\W*(\w+)\W*' has no subfields\."),
     lambda m: (f"Selections can't be made on scalars (field '{m[1]}' returns {m[2]} but has selections)",
                {"code": "selectionMismatch", "nodeName": f"field '{m[1]}'", "typeName": m[2]})),
    (re.compile(r"Variable '\$(\w+)' is not defined(?: by operation '(\w+)')?\."),
     lambda m: (f"Variable ${m[1]} is used by {m[2] or 'anonymous query'} but not declared",
                {"code": "variableNotDefined", "variableName": m[1]})),
    (re.compile(r"Variable '\$(\w+)' is never used(?: in operation '(\w+)')?\."),
     lambda m: (f"Variable ${m[1]} is declared by {m[2] or 'anonymous query'} but not used",
                {"code": "variableNotUsed", "variableName": m[1]})),
]


def _validation_error(err: GraphQLError, paths: dict[int, list]) -> dict:
    # graphql-ruby (GitHub) words these differently from graphql-core; translate the
    # common ones and pass the rest through with graphql-core's wording.
    message, extensions = err.message, None
    for pattern, render in _VALIDATION_RULES:
        m = pattern.match(err.message)
        if m:
            message, extensions = render(m)
            break
    out: dict[str, Any] = {}
    path = paths.get(id(err.nodes[0])) if err.nodes else None
    if path is not None:
        out["path"] = path
    if extensions:
        out["extensions"] = extensions
    out["locations"] = _loc(err)
    out["message"] = message
    return out


_RUBY_TOKENS = {
    "<EOF>": "(none)", "!": "BANG", "$": "VAR_SIGN", "&": "AMP", "(": "LPAREN", ")": "RPAREN",
    "...": "ELLIPSIS", ":": "COLON", "=": "EQUALS", "@": "DIR_SIGN", "[": "LBRACKET",
    "]": "RBRACKET", "{": "LCURLY", "|": "PIPE", "}": "RCURLY", "Name": "IDENTIFIER",
    "Int": "INT", "Float": "FLOAT", "String": "STRING", "BlockString": "STRING",
}


def _ruby_token(desc: str) -> tuple[str, str]:
    """graphql-core token description ("'}'", "Name 'foo'", "<EOF>") -> (RUBY_NAME, text)."""
    m = re.fullmatch(r"(\w+) '(.*)'|'(.*)'|(<EOF>)", desc)
    if not m:
        return desc, desc
    if m[1]:
        return _RUBY_TOKENS.get(m[1], m[1].upper()), m[2]
    if m[3] is not None:
        return _RUBY_TOKENS.get(m[3], m[3]), m[3]
    return "(none)", ""


def _syntax_error(err: GraphQLSyntaxError) -> dict:
    # Approximates graphql-ruby's parser messages ("Expected NAME, actual: RCURLY ("}")
    # at [1, 10]"); clients only key on there being an error with a location.
    loc = (err.locations or [None])[0]
    where = f" at [{loc.line}, {loc.column}]" if loc else ""
    desc = err.description or err.message
    m = re.fullmatch(r"Expected (.+?), found (.+)\.", desc)
    if m:
        expected = _ruby_token(m[1])[0] if not m[1].startswith("Name") else "NAME"
        tok, text = _ruby_token(m[2])
        message = f'Expected {expected}, actual: {tok} ("{text}"){where}'
    else:
        m = re.fullmatch(r"Unexpected (.+)\.", desc)
        if m:
            tok, text = _ruby_token(m[1])
            message = f'Parse error on "{text}" ({tok}){where}'
        else:
            message = f"{desc}{where}"
    return {"message": message, "locations": _loc(err)}


def _variable_error(err: GraphQLError, raw: dict) -> dict:
    node = err.nodes[0] if err.nodes else None
    if node is None or not hasattr(node, "variable"):
        return {"locations": _loc(err), "message": err.message}
    name = node.variable.name.value
    type_str = print_ast(node.type)
    explanation = err.message.split("; ", 1)[1] if "; " in err.message else (
        "Expected value to not be null" if "was not provided" in err.message or "must not be null" in err.message
        else err.message)
    return {
        "extensions": {"value": raw.get(name), "problems": [{"path": [], "explanation": explanation}]},
        "locations": _loc(node),
        "message": f"Variable ${name} of type {type_str} was provided invalid value",
    }


# --------------------------------------------------------------------------- compile (cached)
@lru_cache(maxsize=512)
def _compile(query: str) -> _Compiled:
    """Parse + validate once per distinct query text: validation costs ~2 ms on this
    schema, and paginating clients resend the same text with only new variables."""
    try:
        document = parse(query)
    except GraphQLSyntaxError as err:
        return _Compiled(None, [_syntax_error(err)])
    errs = validate(get_schema(), document)
    paths = _static_paths(document) if errs else {}
    return _Compiled(document, [_validation_error(e, paths) for e in errs])


def _op_plan(compiled: _Compiled, operation_name: str | None) -> _OpPlan | list[dict]:
    cached = compiled.plans.get(operation_name)
    if cached is not None:
        return cached
    ops = [d for d in compiled.document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in compiled.document.definitions if isinstance(d, FragmentDefinitionNode)}
    # graphql-ruby's wording for operation selection failures
    if operation_name is None:
        op = ops[0] if len(ops) == 1 else None
        missing = "An operation name is required"
    else:
        op = next((o for o in ops if o.name and o.name.value == operation_name), None)
        missing = f'No operation named "{operation_name}"'
    if op is None:
        result: _OpPlan | list[dict] = [{"message": missing}]
    else:
        root = get_schema().get_root_type(op.operation)
        result = _OpPlan(op, _plan([op.selection_set], root, fragments), _dry_run_spec(op))
    compiled.plans[operation_name] = result
    return result


# --------------------------------------------------------------------------- prepare
@dataclass
class Prepared:
    """Outcome of :func:`prepare`.

    ``errors`` non-empty: a request-level rejection (syntax, validation, variables, node
    limit); answer ``{"errors": errors}`` with HTTP 200 and do not execute.
    Otherwise ``cost`` is the rate-limit points GitHub charges (minimum 1) and
    ``node_count`` the worst-case node count (``rateLimit.nodeCount``).
    ``field_errors`` are pagination-bound violations (missing/over-limit first/last):
    GitHub raises them in the connection's resolver, so they surface from
    :func:`execute` as field errors with a concrete ``path`` and null propagation, and the
    call is still charged.
    """

    errors: list[dict]
    document: Any = None
    operation: OperationDefinitionNode | None = None
    operation_name: str | None = None
    variables: dict = field(default_factory=dict)
    cost: int = 0
    node_count: int = 0
    requests: int = 0  # the unrounded "requests needed" sum behind cost
    dry_run: bool = False  # rateLimit(dryRun: true): GitHub prices without charging
    field_errors: list[dict] = field(default_factory=list)
    _bad_fields: dict = field(default_factory=dict, repr=False)  # id(FieldNode) -> (type, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def _value(spec: Any, variables: dict) -> Any:
    if isinstance(spec, tuple):
        return variables.get(spec[1])
    return spec


def prepare(query: str, variables: dict | None = None, operation_name: str | None = None) -> Prepared:
    if not isinstance(query, str) or not query.strip():
        # graphql-ruby's answer to an absent/blank query
        return Prepared([{"message": "A query attribute must be specified and must be a string."}])
    compiled = _compile(query)
    if compiled.errors:
        return Prepared(list(compiled.errors))
    plan = _op_plan(compiled, operation_name or None)
    if isinstance(plan, list):
        return Prepared(list(plan))
    raw = variables or {}
    coerced = get_variable_values(get_schema(), plan.operation.variable_definitions or (), raw)
    if isinstance(coerced, list):
        return Prepared([_variable_error(e, raw) for e in coerced])

    requests = nodes = 0
    first_offender: tuple[_Conn, int] | None = None
    bad: dict[int, tuple[str | None, str]] = {}
    field_errors: list[dict] = []
    stack: list[tuple[_Conn, int]] = [(c, 1) for c in reversed(plan.connections)]
    while stack:  # pre-order, document order: the first offender is the one GitHub names
        conn, parents = stack.pop()
        first, last = _value(conn.first, coerced), _value(conn.last, coerced)
        problem = None
        if first is None and last is None:
            problem = ("MISSING_PAGINATION_BOUNDARIES",
                       f"You must provide a `first` or `last` value to properly paginate the `{conn.name}` connection.")
            size = _UNBOUNDED_SIZE
        else:
            for arg, val in (("first", first), ("last", last)):
                if val is not None and val > MAX_PAGE_SIZE:
                    problem = ("EXCESSIVE_PAGINATION",
                               f"Requesting {val} records on the `{conn.name}` connection exceeds the "
                               f"`{arg}` limit of {MAX_PAGE_SIZE} records.")
                    break
                if val is not None and val < 0:
                    # not observed on GitHub; graphql-ruby's wording, no `type`
                    problem = (None, f"`{arg}` on the `{conn.name}` connection cannot be less than zero.")
                    break
            size = max(0, max(v for v in (first, last) if v is not None))
        if problem:
            for n in conn.nodes:
                bad[id(n)] = problem
            field_errors.append({"type": problem[0], "locations": _loc(conn.nodes[0]), "message": problem[1]})
        # GitHub's formula: one request per possible parent node, nodes multiply down the path
        requests += parents
        here = parents * size
        nodes += here
        if first_offender is None and here > MAX_NODES:
            first_offender = (conn, here)
        stack.extend((c, here) for c in reversed(conn.children))

    if first_offender or nodes > MAX_NODES:
        if first_offender:
            conn, n = first_offender
            err = {"type": "MAX_NODE_LIMIT_EXCEEDED", "locations": _loc(conn.nodes[0]),
                   "message": f"By the time this query traverses to the {conn.name} connection, it is "
                              f"requesting up to {n:,} possible nodes which exceeds the maximum limit of {MAX_NODES:,}."}
        else:
            err = {"type": "MAX_NODE_LIMIT_EXCEEDED",
                   "message": f"This query requests up to {nodes:,} possible nodes which exceeds the "
                              f"maximum limit of {MAX_NODES:,}."}
        return Prepared([err], node_count=nodes, requests=requests)

    return Prepared(
        errors=[],
        document=compiled.document,
        operation=plan.operation,
        operation_name=operation_name or None,
        variables=raw,
        # "divide by 100 and round to the nearest whole number"; Ruby rounds halves up.
        # Minimum 1 -- the docs make no exception for a query of only `rateLimit`.
        cost=max(1, (requests + 50) // 100),
        node_count=nodes,
        requests=requests,
        dry_run=bool(_value(plan.dry_run, coerced)),
        field_errors=[{k: v for k, v in e.items() if v is not None} for e in field_errors],
        _bad_fields=bad,
    )


# --------------------------------------------------------------------------- execute
def _never_awaitable(_value: Any) -> bool:
    # graphql-core's default check (inspect.isawaitable) runs for every resolved value;
    # the simulator is synchronous, so skip it.
    return False


def _guarded_resolver(bad: dict):
    def resolve(source, info, **args):
        problem = bad.get(id(info.field_nodes[0]))
        if problem is not None:
            raise GitHubError(problem[1], problem[0])
        return default_field_resolver(source, info, **args)

    return resolve


def _format_error(err: GraphQLError) -> dict:
    out: dict[str, Any] = {}
    typ = getattr(err.original_error, "type", None)
    if typ:
        out["type"] = typ
    if err.path is not None:
        out["path"] = list(err.path)
    if err.locations:
        out["locations"] = [{"line": l.line, "column": l.column} for l in err.locations]
    out["message"] = err.message
    return out


class _PlainFieldsContext(ExecutionContext):
    """graphql-core resolves every field through resolve info, argument coercion and value
    completion (~4 µs each); a page of 100 PRs has ~5,000 fields, most of them plain
    values read from dicts. Serve those directly: scalars, and objects or lists of objects
    (of a concrete type) whose selections are then executed as graphql-core would, with
    the same paths and the same null and error handling. Everything else (arguments,
    resolvers, abstract types, nulls where non-null is due) takes the full path."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plans: dict = {}  # (parent type, field node) -> how the field is served; per query
        self._args: dict = {}   # (field, field node) -> its coerced arguments (the variables are fixed)

    def execute_field(self, parent_type, source, field_nodes, path):
        node = field_nodes[0]
        if type(source) is dict and not node.arguments and not node.directives and self.field_resolver is default_field_resolver:
            value = source.get(node.name.value)
            if not callable(value):
                plan = self._plans.get((id(parent_type), id(node)), _UNPLANNED)
                if plan is _UNPLANNED:
                    plan = self._plan(parent_type, node)
                if plan is not None:
                    out = self._plain(plan, value, field_nodes, path)
                    if out is not _FULL_PATH:
                        return out
        return self._resolve_field(parent_type, source, field_nodes, path)

    def _resolve_field(self, parent_type, source, field_nodes, path):
        """graphql-core's execute_field (synchronous, no middleware), with each field's
        arguments coerced once per query rather than once per parent node (a page of 50 PRs
        asks for reviews(first: 50) 50 times)."""
        if self.middleware_manager:
            return super().execute_field(parent_type, source, field_nodes, path)
        field_def = get_field_def(self.schema, parent_type, field_nodes[0])
        if not field_def:
            return Undefined
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        info = self.build_resolve_info(field_def, field_nodes, parent_type, path)
        try:
            key = (id(field_def), id(field_nodes[0]))
            args = self._args.get(key)
            if args is None:
                args = self._args[key] = get_argument_values(field_def, field_nodes[0], self.variable_values)
            result = resolve_fn(source, info, **args)
            return self.complete_value(return_type, field_nodes, info, path, result)
        except Exception as raw_error:  # noqa: BLE001 - as graphql-core's execute_field
            self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()), return_type, path)
            return None

    def _plan(self, parent_type, node):
        """(kind, named type, declared type, list item type) of a field served without a
        resolver, or None; once per field of the query."""
        plan = None
        field_def = get_field_def(self.schema, parent_type, node)
        if field_def is not None and field_def.resolve is None:
            declared = field_def.type
            t = declared.of_type if isinstance(declared, GraphQLNonNull) else declared
            if is_leaf_type(t):
                plan = ("leaf", t, declared, None)
            elif isinstance(t, GraphQLObjectType) and t.is_type_of is None:
                plan = ("object", t, declared, None)
            elif isinstance(t, GraphQLList):
                item = t.of_type
                named = item.of_type if isinstance(item, GraphQLNonNull) else item
                if isinstance(named, GraphQLObjectType) and named.is_type_of is None:
                    plan = ("list", named, declared, item)
        self._plans[(id(parent_type), id(node))] = plan
        return plan

    def _plain(self, plan, value, field_nodes, path):
        kind, t, declared, item_type = plan
        if value is None:
            return _FULL_PATH if isinstance(declared, GraphQLNonNull) else None
        if kind == "leaf":
            try:
                out = t.serialize(value)
            except Exception:  # noqa: BLE001 - let the full path produce GitHub's error
                return _FULL_PATH
            return _FULL_PATH if out is None else out
        if kind == "object":
            if type(value) is not dict:
                return _FULL_PATH
            try:
                return self.execute_fields(t, value, path, self.collect_subfields(t, field_nodes))
            except Exception as raw_error:  # noqa: BLE001 - as graphql-core's execute_field
                self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()), declared, path)
                return None
        if type(value) is not list or any(type(v) is not dict for v in value):
            return _FULL_PATH
        sub = self.collect_subfields(t, field_nodes)
        out = []
        try:
            for i, v in enumerate(value):
                item_path = path.add_key(i, None)
                try:
                    out.append(self.execute_fields(t, v, item_path, sub))
                except Exception as raw_error:  # noqa: BLE001 - as graphql-core's complete_list_value
                    self.handle_field_error(located_error(raw_error, field_nodes, item_path.as_list()), item_type,
                                            item_path)
                    out.append(None)
        except Exception as raw_error:  # noqa: BLE001 - a non-null item's error nulls the list
            self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()), declared, path)
            return None
        return out


_FULL_PATH = object()   # _plain's answer: "use graphql-core's full path for this field"
_UNPLANNED = object()


def execute(prepared: Prepared, root_value: Any, context: Any = None) -> dict:
    """Run a prepared (error-free) query; returns GitHub's response body."""
    if prepared.errors:
        return {"errors": list(prepared.errors)}
    result = gql_execute(
        get_schema(),
        prepared.document,
        root_value=root_value,
        context_value=context,
        variable_values=prepared.variables,
        operation_name=prepared.operation_name,
        # only pay for the pagination guard when the query actually violates a bound
        field_resolver=_guarded_resolver(prepared._bad_fields) if prepared._bad_fields else default_field_resolver,
        is_awaitable=_never_awaitable,
        execution_context_class=_PlainFieldsContext,
    )
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [_format_error(e) for e in result.errors]
    return body
