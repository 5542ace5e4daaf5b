"""Simulator benchmarks: generation time and peak memory per size (each in a fresh
process, so peak RSS is the generator's own), and pages per second served."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import requests

GEN_SNIPPET = """
import json, resource, time
t = time.perf_counter()
from simulator import generate
w = generate({size!r}, seed=1)
print(json.dumps({{"seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": w.summary()}}))
"""

PR_QUERY = """
query($owner: String!, $name: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title state isDraft createdAt updatedAt mergedAt closedAt additions deletions changedFiles
        baseRefName headRefName author { login } mergeCommit { oid }
        labels(first: 10) { nodes { name } }
        reviews(first: 50) { nodes { author { login } state submittedAt } }
        firstCommit: commits(first: 1) { nodes { commit { oid authoredDate committedDate } } }
        lastCommit: commits(last: 1) { totalCount nodes { commit { oid authoredDate committedDate } } }
      }
    }
  }
  rateLimit { cost remaining }
}
"""


def generation(sizes=("tiny", "small", "medium", "large")) -> list[dict]:
    out = []
    for size in sizes:
        r = subprocess.run([sys.executable, "-c", GEN_SNIPPET.format(size=size)], capture_output=True, text=True,
                           check=True)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res["size"] = size
        out.append(res)
        print(f"generate {size:7s} {res['seconds']:7.1f} s  peak {res['peak_mb']:7.0f} MB  "
              f"PRs {res['rows']['prs']:,}", flush=True)
    return out


def graphql_pages(size: str = "medium", pages: int = 300) -> dict:
    """Pages of 100 PRs with the nested fields a connector asks for, fresh pages only
    (no page is requested twice, so the rendered-page cache cannot help). The simulator
    runs in its own process, as `sei sim serve`, so client and server each have a core."""
    import socket

    from simulator import generate
    from simulator.http import GITHUB_TOKEN
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "sei.cli", "sim", "serve", "--size", size, "--seed", "1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(f"{url}/_sim/health", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        repos = generate(size, seed=1)["repos"].full_name.tolist()
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {GITHUB_TOKEN}"
        done, prs, t = 0, 0, time.perf_counter()
        for full in repos:
            owner, name = full.split("/")
            after = None
            while done < pages:
                r = s.post(f"{url}/graphql", json={"query": PR_QUERY, "variables": {"owner": owner, "name": name, "after": after}})
                r.raise_for_status()
                conn = r.json()["data"]["repository"]["pullRequests"]
                done += 1
                prs += len(conn["nodes"])
                if not conn["pageInfo"]["hasNextPage"]:
                    break
                after = conn["pageInfo"]["endCursor"]
            if done >= pages:
                break
        dt = time.perf_counter() - t
    finally:
        server.terminate()
        server.wait(30)
    res = {"size": size, "pages": done, "prs": prs, "seconds": dt, "pages_per_s": done / dt}
    print(f"graphql {size}: {done} pages ({prs:,} PRs) in {dt:.1f} s = {done / dt:.1f} pages/s", flush=True)
    return res
