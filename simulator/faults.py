"""Deterministic fault injection.

A spec is `kind:rate[,kind:rate...]`, each kind optionally scoped to one API
(`jira.500:1.0` fails every Jira request). Kinds: 429, secondary (GitHub's 403
secondary rate limit; a 429 elsewhere), 500/502/503/504, reset (connection dropped
without an answer) and slow (answer delayed).

Whether a request fails depends only on the request (method, path, query, body), how
many times that same request was seen before, and the seed; never on arrival order, so
concurrency does not change which requests fail and a retry can succeed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

KINDS = {"429", "secondary", "500", "502", "503", "504", "reset", "slow"}
APIS = {"github", "jira", "harness"}


@dataclass
class FaultSpec:
    rates: list[tuple[str | None, str, float]] = field(default_factory=list)  # (api or None, kind, rate)
    seed: int = 0

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> "FaultSpec":
        rates = []
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            try:
                kind, rate_s = part.rsplit(":", 1)
                rate = float(rate_s)
            except ValueError:
                raise ValueError(f"bad fault {part!r}: write kind:rate, e.g. 429:0.05") from None
            api = None
            if "." in kind:
                api, kind = kind.split(".", 1)
                if api not in APIS:
                    raise ValueError(f"bad fault {part!r}: unknown API {api!r} (one of {', '.join(sorted(APIS))})")
            if kind not in KINDS:
                raise ValueError(f"bad fault {part!r}: unknown kind {kind!r} (one of {', '.join(sorted(KINDS))})")
            if not 0 <= rate <= 1:
                raise ValueError(f"bad fault {part!r}: the rate must be between 0 and 1")
            rates.append((api, kind, rate))
        total = {}
        for api, _, r in rates:
            for a in ([api] if api else APIS):
                total[a] = total.get(a, 0) + r
        if any(v > 1 + 1e-9 for v in total.values()):
            raise ValueError(f"fault rates add up to more than 1 for one API: {spec!r}")
        return cls(rates, seed)

    def __str__(self) -> str:
        return ",".join(f"{a + '.' if a else ''}{k}:{r:g}" for a, k, r in self.rates)

    def pick(self, api: str, request_digest: bytes, attempt: int) -> str | None:
        if not self.rates:
            return None
        h = hashlib.sha256(request_digest + attempt.to_bytes(4, "big") + self.seed.to_bytes(8, "big")).digest()
        u = int.from_bytes(h[:8], "big") / 2**64
        acc = 0.0
        for a, kind, rate in self.rates:
            if a is not None and a != api:
                continue
            acc += rate
            if u < acc:
                return "429" if kind == "secondary" and api != "github" else kind
        return None
