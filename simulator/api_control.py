"""`/_sim/*`: the simulator's own control endpoints (no auth, never faulted)."""
from __future__ import annotations

from collections import Counter

from simulator.faults import FaultSpec
from simulator.http import Request, Response, Router
from simulator.world import iso


def register(r: Router) -> None:
    r.add("GET", r"/_sim/health", "sim.health", health)
    r.add("GET", r"/_sim/stats", "sim.stats", stats)
    r.add("POST", r"/_sim/stats/reset", "sim.stats_reset", stats_reset)
    r.add("GET", r"/_sim/requests", "sim.requests", requests_by_path)
    r.add("POST", r"/_sim/advance", "sim.advance", advance)
    r.add("POST", r"/_sim/faults", "sim.faults", set_faults)
    r.add("POST", r"/_sim/delete", "sim.delete", delete)
    r.add("GET", r"/_sim/truth", "sim.truth", truth_index)
    r.add("GET", r"/_sim/truth/(?P<table>[a-z_]+)", "sim.truth_table", truth_table)


def health(req: Request, sim) -> Response:
    w = sim.world
    return Response.json(200, {"status": "ok", "size": w.size, "seed": w.seed, "now": iso(w.now),
                               "history_start": iso(w.start), "horizon": iso(w.end), "faults": str(sim.faults),
                               "time_scale": sim.time_scale})


def stats(req: Request, sim) -> Response:
    with sim.lock:
        by = {k: dict(v) for k, v in sorted(sim.stats.items()) if not k.startswith("sim.")}
        total = sum(sum(v.values()) for v in by.values())
        cpu = {k: round(v, 4) for k, v in sorted(sim.handler_cpu.items()) if not k.startswith("sim.")}
        return Response.json(200, {"requests": total, "by_endpoint": by, "faults": dict(sim.fault_counts),
                                   "graphql_points": sim.graphql_points, "handler_cpu_s": cpu})


def requests_by_path(req: Request, sim) -> Response:
    """API requests per method and path (query left out) since the last stats reset, from the
    request log, e.g. which repositories' deployments were listed; `?prefix=/repos/` keeps
    the paths that start so."""
    prefix = req.arg("prefix", "") or ""
    paths = Counter(f"{method} {path}" for _, method, path, _ in list(sim.request_log) if path.startswith(prefix))
    return Response.json(200, {"by_path": dict(sorted(paths.items()))})


def stats_reset(req: Request, sim) -> Response:
    sim.reset_stats()
    return Response.json(200, {"status": "reset"})


def advance(req: Request, sim) -> Response:
    try:
        hours = float(req.arg("hours", "0"))
        now = sim.world.advance(hours)
    except ValueError as e:
        return Response.json(400, {"error": str(e)})
    return Response.json(200, {"now": iso(now)})


def set_faults(req: Request, sim) -> Response:
    try:
        sim.faults = FaultSpec.parse(req.arg("spec", ""), seed=sim.faults.seed)
    except ValueError as e:
        return Response.json(400, {"error": str(e)})
    return Response.json(200, {"faults": str(sim.faults)})


def truth_index(req: Request, sim) -> Response:
    from simulator.truth import TRUTH_TABLES
    return Response.json(200, {"now": iso(sim.world.now), "tables": sorted(TRUTH_TABLES),
                               "hint": "GET /_sim/truth/<table> (JSON lines), or `sei sim truth --out DIR`"})


def truth_table(req: Request, sim) -> Response:
    from simulator.truth import TRUTH_TABLES, truth_frame
    table = req.params["table"]
    if table not in TRUTH_TABLES:
        return Response.json(404, {"error": f"unknown truth table {table!r}", "tables": sorted(TRUTH_TABLES)})
    df = truth_frame(sim.world, table)
    return Response(200, df.to_json(orient="records", lines=True, date_format="iso").encode(),
                    {"Content-Type": "application/x-ndjson"})


def delete(req: Request, sim) -> Response:
    """`?repository=owner/name` or `?issue=KEY-1`: delete upstream."""
    try:
        sim.world.delete(repository=req.arg("repository"), issue=req.arg("issue"))
    except ValueError as e:
        return Response.json(404, {"error": str(e)})
    return Response.json(200, {"deleted_repos": len(sim.world.deleted_repos), "deleted_issues": len(sim.world.deleted_issues)})
