"""The receiver's counters per source, as `sei doctor` and the Dagster health show them.

Read from the spool's `counters` table (webhooks/spool.py), which the receiver updates in
the same commit as the deliveries it stores, so the figures survive restarts and count
what was answered, not what was logged."""
from __future__ import annotations

from pathlib import Path

from webhooks import spool

# spool outcome -> column heading (the words)
COLUMNS = {"accepted": "accepted", "duplicate": "duplicate (replay)", "unauthorized": "rejected signature",
           "too_large": "oversize", "malformed": "malformed", "ignored": "ignored event",
           "unsupported_media_type": "not JSON"}


def receiver_counters(path: Path | str) -> dict | None:
    """{'sources': {source: {outcome: n}} for every outcome of COLUMNS, 'pending', 'oldest_pending',
    'last_batch'}; None when there is no spool (no receiver has run)."""
    st = spool.status(path)
    if not st["exists"]:
        return None
    sources = {s: {o: int(c.get(o, 0)) for o in COLUMNS} for s, c in sorted(st["counters"].items())}
    return {"sources": sources, "pending": st["pending"], "oldest_pending": st.get("oldest_pending"),
            "last_batch": st["last_batch"]}


def render(counters: dict) -> str:
    heads = ["source", *COLUMNS.values()]
    rows = [[s, *(str(c[o]) for o in COLUMNS)] for s, c in counters["sources"].items()]
    if not rows:
        rows = [["(none yet)", *("0" for _ in COLUMNS)]]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, rows)])


def headline(path: Path | str, counters: dict) -> str:
    b = counters["last_batch"]
    pending = f"{counters['pending']} pending" + (f" (oldest received {counters['oldest_pending']})"
                                                   if counters["pending"] else "")
    last = (f"last sei_fresh batch {b['status']}" + (f" at {b['finished_at']}" if b.get("finished_at") else "")
            if b else "no sei_fresh batch yet")
    return f"spool {path}; {pending}; {last}"


def markdown(counters: dict) -> str:
    """The table for Dagster metadata."""
    heads = ["source", *COLUMNS.values()]
    rows = [[s, *(str(c[o]) for o in COLUMNS)] for s, c in counters["sources"].items()]
    return "\n".join(["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads),
                      *("| " + " | ".join(r) + " |" for r in rows)])
