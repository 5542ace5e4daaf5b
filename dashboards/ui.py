"""What every page shares: the viewer, the header ("data as of"), the org-tree and period
controls kept in the URL's query string, tables with a CSV download, empty states.

Pages read figures from the marts as they are; the only SQL here selects rows (a team, a
period range), it does not aggregate: an aggregate a page needs repeatedly belongs in a mart
(DESIGN.md §7)."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboards.data import AccessError, Data, Viewer, fixed_viewer, principal_for_email, scope_viewer

OUTSIDE = "(outside your scope)"
MAX_ROWS_ENV = "SEI_DASHBOARD_MAX_ROWS"
ROWS_DEFAULT_TEAMS = 25          # drill-down tables listed by default for nodes of at most this many teams


def max_rows() -> int:
    """Rows a drill-down table shows at most (the latest first): a browser table of a whole
    large org's half year is unreadable and slow; narrow the range or the team for the rest."""
    try:
        return max(1, int(os.environ.get(MAX_ROWS_ENV, "5000")))
    except ValueError:
        return 5000
GITHUB_URL_ENV = "SEI_DASHBOARD_GITHUB_URL"
DAGSTER_URL_ENV = "SEI_DAGSTER_URL"


# --------------------------------------------------------------------------- the viewer
def _login_viewer() -> Viewer:
    """Production: Streamlit's OIDC login (`[auth]` in .streamlit/secrets.toml), the email
    mapped to a principal by `[sei.principals]`."""
    try:
        auth_configured = "auth" in st.secrets
        mapping = st.secrets.get("sei", {}).get("principals", {})
    except Exception:  # noqa: BLE001 - no secrets.toml at all
        auth_configured, mapping = False, {}
    if not auth_configured:
        raise AccessError("no viewer: start the dashboards for one principal (`sei dashboards --principal P`, or "
                          "SEI_DASHBOARD_PRINCIPAL), or configure the OIDC login ([auth] and [sei.principals] in "
                          ".streamlit/secrets.toml, see docs/dashboards.md)")
    if not st.user.is_logged_in:
        st.title("SEI Insights")
        st.write("Sign in to see the insights your access policy grants you.")
        st.button("Log in", on_click=st.login)
        st.stop()
    email = st.user.get("email")
    principal = principal_for_email(email, mapping)
    if principal is None:
        raise AccessError(f"{email} is not mapped to a principal of the access policy. Fix: an administrator adds "
                          f"it under [sei.principals] in .streamlit/secrets.toml")
    return scope_viewer(principal)


def data() -> Data:
    """The viewer's data, or an error box naming the fix and nothing else."""
    try:
        viewer = fixed_viewer() or _login_viewer()
    except AccessError as e:
        st.error(str(e))
        st.stop()
    return Data(viewer)


def header(d: Data, title: str, marts: list[str]) -> None:
    st.title(title)
    as_of = d.as_of()
    when = as_of.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if as_of else "unknown"
    st.caption(f"Data as of {when} (the last complete refresh published) · {d.viewer.label} · "
               f"source: {', '.join('marts.' + m for m in marts)}")


def start(title: str, marts: list[str], needs: str | None = None, missing: str | None = None) -> tuple[Data, "Node"]:
    """What every org-tree page begins with: the viewer's data, the header ("data as of"), the
    org-tree controls, and the page's main mart: the script stops with the reason when the
    viewer has no team or the mart is not published in its scope."""
    d = data()
    header(d, title, marts)
    node = org_controls(d)
    if node is None:
        st.stop()
    if needs is not None and not d.has(needs):
        empty(missing or f"No data for this page in your scope (marts.{needs} is not published).")
        st.stop()
    return d, node


def empty(reason: str) -> None:
    """An empty result says why, instead of an empty chart."""
    st.info(reason)


def source(*marts: str) -> None:
    st.caption("Source: " + ", ".join(f"`marts.{m}`" for m in marts))


# --------------------------------------------------------------------------- URL state
def _qp(key: str) -> str | None:
    v = st.query_params.get(key)
    return v if v not in (None, "") else None


def select(label: str, options: list, key: str, default=None, fmt=None, sidebar: bool = True, help: str | None = None):
    """A selectbox whose value lives in the query string (`?key=value`), so a link reproduces it."""
    if not options:
        return None
    strs = [str(o) for o in options]
    cur = _qp(key)
    idx = strs.index(cur) if cur in strs else (options.index(default) if default in options else 0)
    where = st.sidebar if sidebar else st
    v = where.selectbox(label, options, index=idx, key=f"w_{key}", format_func=fmt or str, help=help)
    st.query_params[key] = str(v)
    return v


def toggle(label: str, key: str, default: bool, help: str | None = None) -> bool:
    cur = _qp(key)
    value = default if cur is None else cur in ("1", "true", "yes")
    v = st.sidebar.checkbox(label, value=value, key=f"w_{key}", help=help)
    st.query_params[key] = "1" if v else "0"
    return bool(v)


def _date(s: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(s) if s else None
    except ValueError:
        return None


GRAINS = ["month", "week", "quarter"]
STEP = {"week": pd.DateOffset(weeks=1), "month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3)}


def period_start(day, grain: str) -> dt.date:
    """The first day of the UTC period holding `day`: ISO week (Monday), calendar month or quarter."""
    t = pd.Timestamp(day).normalize()
    if grain == "week":
        return (t - pd.Timedelta(days=t.weekday())).date()
    if grain == "quarter":
        return t.replace(month=3 * ((t.month - 1) // 3) + 1, day=1).date()
    return t.replace(day=1).date()


def period_end(start, grain: str) -> dt.date:
    """The last day of the period starting at `start` (a week, a calendar month or quarter):
    a range ending there covers the last period whole."""
    return (pd.Timestamp(start) + STEP[grain] - pd.Timedelta(days=1)).date()


@dataclass
class Partial:
    """The period the published data ends inside: the marts' date spine runs to the last
    activity the refresh saw, so the latest period holds only part of its days and reads as
    a drop. Excluded by default (`?partial=1` shows it, marked)."""
    start: dt.date            # first day of the partial period at the page's grain
    include: bool

    def label(self, grain: str) -> str:
        return f"the {grain} starting {self.start:%Y-%m-%d} is partial: the data ends inside it"


def partial_control(latest_start, grain: str) -> Partial:
    """`latest_start`: the latest period start in the page's mart (at its own grain)."""
    p = Partial(period_start(latest_start, grain), False)
    p.include = toggle("Include the partial period", "partial", False,
                       help=f"{p.label(grain)[0].upper()}{p.label(grain)[1:]}; off: figures stop at the last "
                            f"complete {grain}")
    return p


def date_range(lo: dt.date, hi: dt.date, default_days: int = 182,
               partial: Partial | None = None) -> tuple[dt.date, dt.date]:
    """From/to (`?from=YYYY-MM-DD&to=...`) within the data's bounds; without the partial
    period (unless it is included) the bounds end the day before it starts."""
    lo, hi = pd.Timestamp(lo).date(), pd.Timestamp(hi).date()
    if partial is not None and not partial.include:
        hi = max(lo, partial.start - dt.timedelta(days=1))
    start = _date(_qp("from")) or max(lo, hi - dt.timedelta(days=default_days))
    end = _date(_qp("to")) or hi
    start, end = max(lo, min(start, hi)), max(lo, min(end, hi))
    v = st.sidebar.date_input("Date range", value=(start, end), min_value=lo, max_value=hi, key="w_range")
    if isinstance(v, (tuple, list)) and len(v) == 2:
        start, end = v
    st.query_params["from"], st.query_params["to"] = start.isoformat(), end.isoformat()
    return start, end


def period_window(d, mart: str, period: str, grain: str, nothing: str,
                  default_days: int = 182) -> tuple[Partial, dt.date, dt.date]:
    """The page's window of whole periods within `mart`'s `period` column: the partial-period
    switch and the date range; with no period at all, `nothing` is said and the page stops."""
    bounds = d.sql(f"select min({period}) lo, max({period}) hi from marts.{mart}")
    if bounds.lo.isna().iloc[0]:
        empty(nothing)
        st.stop()
    partial = partial_control(bounds.hi.iloc[0], grain)
    start, end = date_range(bounds.lo.iloc[0], period_end(partial.start, grain), default_days=default_days,
                            partial=partial)
    return partial, period_start(start, grain), period_end(period_start(end, grain), grain)


# --------------------------------------------------------------------------- the org tree
@dataclass
class Node:
    tree: str
    team_id: str
    name: str
    subteams: bool
    teams: list[str]              # the team, or its visible subtree with sub-teams
    children: pd.DataFrame        # visible child teams (team_id, name)
    names: dict[str, str]         # team_id -> name, every visible team of the tree

    @property
    def label(self) -> str:
        return f"{self.name} ({self.team_id})" + (" with sub-teams" if self.subteams else "")


def org_controls(d: Data) -> Node | None:
    """Org tree, tree node and include-sub-teams, among the teams the viewer may see."""
    if not d.has("dim_team"):
        empty("No org tree is published in your scope (marts.dim_team is missing). Fix: import the org files "
              "(`sei org import`) and publish again.")
        return None
    teams = d.sql("select tree, team_id, name, parent_team_id, depth, path from marts.dim_team order by tree, path")
    if teams.empty:
        empty("Your scope holds no team: your access binding covers no team of any org tree, or the org tree is "
              "empty. Ask an administrator for a team or project binding.")
        return None
    trees = sorted(teams.tree.unique())
    tree = select("Org tree", trees, "tree", default="reporting" if "reporting" in trees else trees[0])
    t = teams[teams.tree == tree]
    names = dict(zip(t.team_id, t.name))
    ids = list(t.team_id)
    root = t.sort_values(["depth", "path"]).team_id.iloc[0]   # the top of what the viewer sees
    team_id = select("Team", ids, "team", default=root, fmt=lambda i: f"{names.get(i, i)} ({i})")
    subteams = toggle("Include sub-teams", "sub", True, help="Figures of the team alone, or with every team below it")
    teams_in = [team_id]
    if subteams and d.has("dim_team_closure"):
        teams_in = list(d.sql("select descendant_team_id from marts.dim_team_closure where tree = ? and "
                              "ancestor_team_id = ? order by depth, descendant_team_id", [tree, team_id])
                        .descendant_team_id) or [team_id]
    children = t[t.parent_team_id == team_id][["team_id", "name"]].reset_index(drop=True)
    return Node(tree, team_id, names.get(team_id, team_id), subteams, teams_in, children, names)


# --------------------------------------------------------------------------- tables
LINKS = {"pull_request_url": r"pull/(\d+)$", "source_url": "open", "deployment_url": "open"}


def table(df: pd.DataFrame, key: str, caption: str | None = None, links: dict | None = None) -> None:
    """A table and its CSV download (exactly the rows shown). Link columns (LINKS, or `links`:
    column -> display text or a regex whose group is shown) are clickable."""
    if caption:
        st.caption(caption)
    links = {**{c: t for c, t in LINKS.items() if c in df.columns}, **(links or {})}
    config = {c: st.column_config.LinkColumn(c, display_text=text) for c, text in links.items()}
    st.dataframe(df, hide_index=True, column_config=config or None, key=f"df_{key}")
    # the file is written when the button is clicked, not on every run of the page
    st.download_button("Download CSV", lambda: df.to_csv(index=False).encode(), file_name=f"{key}.csv",
                       mime="text/csv", key=f"dl_{key}", on_click="ignore")


def mask_outside(df: pd.DataFrame, columns: list[str], when: pd.Series) -> pd.DataFrame:
    """Person columns the scope masks (NULL for authors outside it) shown as such, not as blanks."""
    out = df.copy()
    for c in columns:
        if c in out:
            out[c] = out[c].astype(object)
            out.loc[when, c] = OUTSIDE
    return out


def pr_link(repo, number) -> str | None:
    if repo is None or pd.isna(repo) or number is None or pd.isna(number):
        return None
    base = os.environ.get(GITHUB_URL_ENV, "https://github.com").rstrip("/")
    return f"{base}/{repo}/pull/{int(number)}"


def band_for(bands: pd.DataFrame, year: int, metric: str, value) -> str | None:
    """The DORA band of `value` in `year`'s cut-offs (marts.dora_performance_bands: lower <= v <
    upper, as the marts classify): reference data looked up, not a figure computed. The marts
    carry bands for the report year they were built with; this serves the other years."""
    if value is None or pd.isna(value) or bands.empty:
        return None
    b = bands[(bands.report_year == year) & (bands.metric == metric)]
    hit = b[(b.lower_bound <= value) & (b.upper_bound.isna() | (value < b.upper_bound))]
    return None if hit.empty else str(hit.sort_values("band_rank").band.iloc[0])


def fmt_hours(h) -> str:
    if h is None or pd.isna(h):
        return "–"
    return f"{h / 24:.1f} d" if h >= 48 else f"{h:.1f} h"


def fmt_pct(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:.1f}%"


def fmt_num(x, digits: int = 1) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:,.{digits}f}"
