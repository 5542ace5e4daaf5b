"""HTTP for every integration: dlt's retrying `Client`, extended with rate-limit handling
and counters.

One `Api` per integration (GitHub, Jira, Harness) holds the base URL, authentication,
headers, one shared connection pool and the shared `HttpStats`; `Api.client(resource)`
gives each dlt resource its own dlt `Client` session (and `Api.rest(resource)` a dlt
`RESTClient` on top of it), so every request, retry and wait is counted per
(integration, resource).

Retries are dlt's (`dlt.sources.helpers.requests.Client`: tenacity around
`Session.send`, 429/5xx/connection errors), with what dlt does not do added here:

- GitHub's 403 *and* 429 rate-limit answers. A secondary limit waits `Retry-After`
  seconds, or at least 60 s when the header is missing. A spent primary limit
  (`x-ratelimit-remaining: 0`) waits until `x-ratelimit-reset`, measured against the
  server's `Date` header rather than the local clock (so a skewed clock or a simulator
  with its own time still waits the right amount). GraphQL's `RATE_LIMITED` error
  answer (HTTP 200) is treated the same way. Such waits are not capped at dlt's 300 s:
  a run waits for an hourly reset rather than failing.
- 429 without `Retry-After` (Harness) and 5xx / dropped connections / timeouts back off
  exponentially: `backoff_seconds` x 2^(attempt-1), capped at `max_backoff_seconds`.
- Pacing: when an answer says fewer than `min_ratelimit_remaining` units are left, no
  request goes out on the token until the window's reset.
- One gate per token (`RequestGate`), shared by the clients of every resource of an `Api`:
  at most `max_in_flight` requests in flight (None: no limit), and from the moment a
  rate-limit answer (or the pacing rule) arrives, nothing else goes out on that token
  until the wait is over, in any thread.
- `wait_scale` multiplies every wait above (config `runtime.wait_scale`, env
  `SEI_WAIT_SCALE`, default 1.0). A simulator started with `time_scale=0.001` runs its
  clock 1,000x fast, so `wait_scale=0.001` makes a 60 s Retry-After cost 60 ms of real time
  while the client still computes and records the wait GitHub would have asked for
  (`wait_seconds` in the stats are real seconds slept).

After the last attempt the request raises `RetriesExhausted`, naming the integration,
the endpoint and what to do. 401 / 403 (not a rate limit) / 404 raise `AuthError`,
`PermissionDenied`, `NotFound` with the integration's own wording.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import RetryCallState, Retrying, stop_after_attempt
from tenacity.retry import retry_base

from dlt.common import json as dlt_json
from dlt.sources.helpers.requests.retry import DEFAULT_RETRY_EXCEPTIONS, Client, _get_retry_response
from dlt.sources.helpers.requests.session import Session
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator, HeaderLinkPaginator

from ingestion.config import Runtime

MAX_SINGLE_WAIT = 3700.0  # one rate-limit window (an hour) and a little
UNJOURNALED = ("github_app_token", "plan")  # answers that must be fresh (tokens, estimates)


# --------------------------------------------------------------------------- errors
class ApiError(RuntimeError):
    """An API call that failed for good. `str()` says what happened and what to do."""

    def __init__(self, integration: str, endpoint: str, message: str, status: int | None = None,
                 response: requests.Response | None = None):
        super().__init__(message)
        self.integration, self.endpoint, self.status, self.response = integration, endpoint, status, response


class AuthError(ApiError):
    """401: the credentials are missing, wrong or expired. Stops the whole source."""


class PermissionDenied(ApiError):
    """403 that is not a rate limit: the token lacks a permission / scope."""


class NotFound(ApiError):
    """404 (REST) or NOT_FOUND (GraphQL): an unknown or invisible repository/project."""


class RetriesExhausted(ApiError):
    """Still failing (rate limit, 5xx, connection) after the last attempt."""


# --------------------------------------------------------------------------- stats
@dataclass
class ResourceCounters:
    requests: int = 0            # HTTP attempts sent (retries included)
    retries: int = 0             # attempts that were retried
    wait_seconds: float = 0.0    # real seconds slept (retry waits and proactive rate-limit waits)
    ratelimit_waits: int = 0     # waits caused by a rate limit (primary, secondary, proactive)
    min_ratelimit_remaining: int | None = None
    ratelimit_answers: int = 0   # rate-limit answers received (429, secondary 403, GraphQL RATE_LIMITED)
    ratelimit_crossed: int = 0   # ... of which to requests already on the wire when the token's gate closed
    replayed: int = 0            # answers taken from the journal of a killed run (not requests)
    errors: list[str] = field(default_factory=list)
    rows: int = 0                # rows yielded (the loaded count comes from dlt's normalize info)
    status_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"requests": self.requests, "retries": self.retries, "wait_seconds": round(self.wait_seconds, 3),
                "ratelimit_waits": self.ratelimit_waits, "min_ratelimit_remaining": self.min_ratelimit_remaining,
                "errors": list(self.errors), "rows": self.rows, "status_counts": dict(self.status_counts)}


class HttpStats:
    """Counters per (integration, resource), shared by every client of a run. Thread-safe."""

    def __init__(self, progress: Callable[[str], None] | None = None):
        self._lock = threading.Lock()
        self._c: dict[tuple[str, str], ResourceCounters] = {}
        self.progress = progress
        self.journal = None  # the run's page journal (ingestion/journal.py), for sources that keep one

    def get(self, integration: str, resource: str) -> ResourceCounters:
        with self._lock:
            return self._c.setdefault((integration, resource), ResourceCounters())

    def update(self, integration: str, resource: str, fn: Callable[[ResourceCounters], None]) -> None:
        c = self.get(integration, resource)
        with self._lock:
            fn(c)

    def error(self, integration: str, resource: str, message: str) -> None:
        self.update(integration, resource, lambda c: c.errors.append(message))

    def add_rows(self, integration: str, resource: str, n: int) -> None:
        self.update(integration, resource, lambda c: setattr(c, "rows", c.rows + n))

    def say(self, line: str) -> None:
        if self.progress:
            self.progress(line)

    def items(self) -> list[tuple[tuple[str, str], ResourceCounters]]:
        with self._lock:
            return sorted(self._c.items())

    def totals(self, integration: str | None = None) -> ResourceCounters:
        t = ResourceCounters()
        for (i, _), c in self.items():
            if integration and i != integration:
                continue
            t.requests += c.requests
            t.retries += c.retries
            t.wait_seconds += c.wait_seconds
            t.ratelimit_waits += c.ratelimit_waits
            t.ratelimit_answers += c.ratelimit_answers
            t.ratelimit_crossed += c.ratelimit_crossed
            if c.min_ratelimit_remaining is not None:
                t.min_ratelimit_remaining = c.min_ratelimit_remaining if t.min_ratelimit_remaining is None \
                    else min(t.min_ratelimit_remaining, c.min_ratelimit_remaining)
        return t


# --------------------------------------------------------------------------- integration profile
@dataclass
class Integration:
    """What differs between APIs: names, hints, and how a rate-limit answer looks."""

    name: str                       # github | jira | harness
    label: str                      # GitHub
    credentials_hint: str           # how to set the credentials, for 401 messages
    describe: Callable[[requests.Response, str], str | None] | None = None  # custom 4xx wording

    def is_rate_limited(self, resp: requests.Response) -> bool:
        """403/429 that are rate limits (retry), as opposed to permission errors (do not)."""
        if resp.status_code == 429:
            return True
        if resp.status_code == 403:
            h = resp.headers
            if h.get("x-ratelimit-remaining") == "0" or h.get("Retry-After"):
                return True
            head = resp.content[:2000].lower()
            return b"rate limit" in head or b"abuse" in head
        if resp.status_code == 200 and resp.content.find(b'"RATE_LIMITED"', 0, 4096) >= 0:
            return True  # GitHub GraphQL: {"errors":[{"type":"RATE_LIMITED",...}]}
        return False


def _server_now(resp: requests.Response) -> float:
    d = resp.headers.get("Date")
    if d:
        try:
            return email.utils.parsedate_to_datetime(d).timestamp()
        except (TypeError, ValueError):
            pass
    return time.time()


def server_time(resp: requests.Response) -> dt.datetime:
    """The server's clock when it answered (its `Date` header; the local clock without one)."""
    return dt.datetime.fromtimestamp(_server_now(resp), dt.timezone.utc)


def _retry_after(resp: requests.Response) -> float | None:
    v = resp.headers.get("Retry-After")
    if not v:
        return None
    v = v.strip()
    if v.isdigit():
        return float(v)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(v).timestamp() - _server_now(resp))
    except (TypeError, ValueError):
        return None


def reset_wait(resp: requests.Response) -> float | None:
    """Seconds until `x-ratelimit-reset`, by the server's clock (its Date header)."""
    reset = resp.headers.get("x-ratelimit-reset")
    if not reset:
        return None
    try:
        return max(1.0, float(reset) - _server_now(resp) + 1.0)
    except ValueError:
        return None


# --------------------------------------------------------------------------- shared per token
class RequestGate:
    """One gate per credential, shared by every thread and resource that sends with it.

    - At most `limit` requests in flight (None: no limit).
    - Closed while a rate-limit wait lasts: the moment any thread receives a 429, a
      secondary-limit 403, a Retry-After or a nearly spent window (`x-ratelimit-remaining`
      below the headroom), the gate is closed until the wait is over, *before* that thread
      releases its slot, and every thread checks it again after it got a slot. So nothing
      else goes out on the token meanwhile: threads that were queued for a slot, the other
      resources, and the thread that will retry (it sleeps its own wait, then passes here).
      Only requests already on the wire when the answer arrived can still meet the limit.

    Hand-written: neither dlt's client nor tenacity share a wait between threads; a
    threading.Condition over (in flight, closed until) is all it needs."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self._cond = threading.Condition()
        self.in_flight = 0
        self.pause_until = 0.0  # time.monotonic()
        self.closes = 0         # how many times a wait was imposed: a request sent before the latest
                                # one was already on the wire when the gate closed

    def _close(self, seconds: float) -> None:
        self.pause_until = max(self.pause_until, time.monotonic() + seconds)
        self.closes += 1
        self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """Close the gate for `seconds` from now (a longer close already in force stays)."""
        with self._cond:
            self._close(seconds)

    def acquire(self) -> tuple[float, int]:
        """Wait for a free slot while the gate is open: (seconds spent waiting on a closed
        gate, the close count when the request goes out)."""
        waited = 0.0
        with self._cond:
            while True:
                now = time.monotonic()
                if self.pause_until > now:
                    self._cond.wait(self.pause_until - now)
                    waited += time.monotonic() - now
                    continue
                if self.limit and self.in_flight >= self.limit:
                    self._cond.wait()
                    continue
                self.in_flight += 1
                return waited, self.closes

    def release(self, hold_seconds: float = 0.0, sent_at_close: int | None = None) -> bool:
        """Give the slot back, closing the gate first when the answer asked for a wait.
        True when the gate closed after the request went out (given `sent_at_close`)."""
        with self._cond:
            crossed = sent_at_close is not None and self.closes > sent_at_close
            if hold_seconds > 0:
                self._close(hold_seconds)
            self.in_flight -= 1
            self._cond.notify_all()
            return crossed


# --------------------------------------------------------------------------- the client
class _RetryIf(retry_base):
    def __init__(self, pred):
        self.pred = pred

    def __call__(self, state: RetryCallState) -> bool:
        return self.pred(_get_retry_response(state), state.outcome.exception())


class RateLimitedClient(Client):
    """dlt's `Client` with the rate-limit rules above and per-resource counters."""

    def __init__(self, integration: Integration, resource: str, stats: HttpStats, runtime: Runtime,
                 adapter: HTTPAdapter | None = None, headers: dict[str, str] | None = None,
                 gate: RequestGate | None = None):
        super().__init__(request_timeout=runtime.request_timeout, raise_for_status=False,
                         request_max_attempts=runtime.max_attempts)
        if adapter is not None:
            self._adapter = adapter
        self._headers = dict(headers or {})
        self.gate = gate or RequestGate()
        self.integration, self.resource, self.stats, self.runtime = integration, resource, stats, runtime
        self._last_kind = ""

    # ---- decisions
    def _should_retry(self, resp: requests.Response | None, exc: BaseException | None) -> bool:
        if exc is not None:
            return isinstance(exc, DEFAULT_RETRY_EXCEPTIONS)
        if resp is None:
            return False
        return resp.status_code >= 500 or self.integration.is_rate_limited(resp)

    def _backoff(self, attempt: int) -> float:
        b = min(self.runtime.backoff_seconds * 2 ** max(0, attempt - 1), self.runtime.max_backoff_seconds)
        return b * (0.85 + 0.3 * random.random())

    def _wait(self, state: RetryCallState) -> float:
        kind, secs = self._wait_for(_get_retry_response(state), state.attempt_number)
        self._last_kind = kind
        return secs

    def _wait_for(self, resp: requests.Response | None, attempt: int) -> tuple[str, float]:
        """(kind, real seconds) to wait before retrying this answer: `ratelimit` or `backoff`."""
        kind, secs = "backoff", self._backoff(attempt)
        ra = _retry_after(resp) if resp is not None else None
        if ra is not None and not self.integration.is_rate_limited(resp):
            secs = ra  # a 503 with Retry-After: as the server asks
        elif resp is not None and self.integration.is_rate_limited(resp):
            remaining = resp.headers.get("x-ratelimit-remaining")
            if ra is not None:
                kind, secs = "ratelimit", ra
            elif remaining == "0" and reset_wait(resp) is not None:
                kind, secs = "ratelimit", reset_wait(resp)
            elif resp.status_code == 403 or self.integration.name == "github":
                # GitHub secondary limit without Retry-After: at least a minute, growing.
                kind, secs = "ratelimit", max(60.0, 60.0 * 2 ** max(0, attempt - 1))
            else:
                kind = "ratelimit"  # 429 without Retry-After (Harness): exponential backoff
        return kind, min(secs, MAX_SINGLE_WAIT) * self.runtime.wait_scale

    def _gate_hold(self, resp: requests.Response) -> float:
        """Seconds to close the token's gate for after this answer: a rate-limit answer's
        wait, or the window's reset when fewer than `min_ratelimit_remaining` units are left
        (pacing: the limit is never run into). 0: leave it open."""
        if self.integration.is_rate_limited(resp):
            return self._wait_for(resp, 1)[1]
        rem = resp.headers.get("x-ratelimit-remaining")
        if rem is None or not rem.isdigit() or int(rem) >= self.runtime.min_ratelimit_remaining:
            return 0.0
        w = reset_wait(resp)
        if w is None:
            return 0.0
        self.stats.say(f"  {self.integration.label}: {rem} rate-limit units left, waiting {w:.0f}s for the reset")
        self.stats.update(self.integration.name, self.resource,
                          lambda c: setattr(c, "ratelimit_waits", c.ratelimit_waits + 1))
        return min(w, MAX_SINGLE_WAIT) * self.runtime.wait_scale

    def _before_sleep(self, state: RetryCallState) -> None:
        secs = state.next_action.sleep if state.next_action else 0.0
        kind = self._last_kind

        if kind == "ratelimit":
            self.gate.hold(secs)

        def upd(c: ResourceCounters):
            c.retries += 1
            c.wait_seconds += secs
            if kind == "ratelimit":
                c.ratelimit_waits += 1
        self.stats.update(self.integration.name, self.resource, upd)

    # ---- session
    def _make_session(self) -> Session:
        session = Session(**self._session_kwargs)  # type: ignore[arg-type]
        session.headers.update(self._headers)  # keep requests' defaults (gzip, keep-alive)
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        raw_send = session.send
        name, res = self.integration.name, self.resource

        def counted_send(request, **kw):
            waited, sent_at = self.gate.acquire()  # a slot on the token, once no rate-limit wait is in force
            if waited:
                self.stats.update(name, res, lambda c: setattr(c, "wait_seconds", c.wait_seconds + waited))
            self.stats.update(name, res, lambda c: setattr(c, "requests", c.requests + 1))
            hold, limited = 0.0, False
            try:
                resp = raw_send(request, **kw)
                limited = self.integration.is_rate_limited(resp)
                hold = self._gate_hold(resp)
                journal = self.stats.journal if self.resource not in UNJOURNALED else None
                if journal is not None and not limited:
                    # journaled before the slot is free: a kill loses at most the answers in flight
                    journal.put(request, resp)
            finally:
                # closed before the slot is free: no other request slips out
                crossed = self.gate.release(hold, sent_at)
            if limited:
                def lim(c: ResourceCounters):
                    c.ratelimit_answers += 1
                    c.ratelimit_crossed += int(crossed)
                self.stats.update(name, res, lim)
            rem = resp.headers.get("x-ratelimit-remaining")
            code = str(resp.status_code)

            def upd(c: ResourceCounters):
                c.status_counts[code] = c.status_counts.get(code, 0) + 1
                if rem is not None and rem.isdigit():
                    v = int(rem)
                    c.min_ratelimit_remaining = v if c.min_ratelimit_remaining is None else min(c.min_ratelimit_remaining, v)
            self.stats.update(name, res, upd)
            return resp

        retrying = Retrying(wait=self._wait, retry=_RetryIf(self._should_retry),
                            stop=stop_after_attempt(self._retry_kwargs["max_attempts"]), reraise=True,
                            retry_error_callback=lambda state: state.outcome.result(),
                            before_sleep=self._before_sleep)
        retried_send = retrying.wraps(counted_send)

        def send(request, **kw):
            endpoint = f"{request.method} {urlsplit(request.url).path}"
            # a run resumed after a kill: answers the killed run had already read come from
            # its journal, without a request (ingestion/journal.py)
            journal = self.stats.journal if self.resource not in UNJOURNALED else None
            if journal is not None:
                cached = journal.get(request)
                if cached is not None:
                    self.stats.update(name, res, lambda c: setattr(c, "replayed", c.replayed + 1))
                    return cached
            try:
                resp = retried_send(request, **kw)
            except DEFAULT_RETRY_EXCEPTIONS as e:
                raise RetriesExhausted(
                    name, endpoint,
                    f"{self.integration.label}: {endpoint} failed after {self.runtime.max_attempts} attempts "
                    f"({type(e).__name__}: {e}). What to do: check that {urlsplit(request.url).netloc} is "
                    f"reachable; re-run later (the next run resumes from the saved cursors) or raise "
                    f"runtime.max_attempts in the sources file.") from e
            self._check(resp, endpoint)
            return resp

        session.send = send  # type: ignore[method-assign]
        return session

    def _check(self, resp: requests.Response, endpoint: str) -> None:
        """Turn a final failing answer into an error that says what to do."""
        code = resp.status_code
        if code < 400 and not (code == 200 and self.integration.is_rate_limited(resp)):
            return
        label = self.integration.label
        custom = self.integration.describe(resp, endpoint) if self.integration.describe else None
        detail = _message(resp)
        if code >= 500 or self.integration.is_rate_limited(resp):
            what = "rate limited" if self.integration.is_rate_limited(resp) else f"HTTP {code}"
            raise RetriesExhausted(
                self.integration.name, endpoint,
                f"{label}: {endpoint} still {what} after {self.runtime.max_attempts} attempts ({detail}). "
                f"What to do: re-run later (the next run resumes from the saved cursors), or raise "
                f"runtime.max_attempts in the sources file.", code, resp)
        if code == 401:
            raise AuthError(self.integration.name, endpoint,
                            custom or f"{label} credentials invalid: {self.integration.credentials_hint} "
                                      f"({label} said: {detail})", code, resp)
        if code == 403:
            raise PermissionDenied(self.integration.name, endpoint,
                                   custom or f"{label}: {endpoint} is forbidden for these credentials ({detail}). "
                                             f"What to do: grant read access to it.", code, resp)
        if code == 404:
            raise NotFound(self.integration.name, endpoint,
                           custom or f"{label}: {endpoint} not found ({detail}).", code, resp)
        raise ApiError(self.integration.name, endpoint,
                       custom or f"{label}: {endpoint} answered HTTP {code} ({detail}).", code, resp)


def _message(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason or "")[:200].strip()
    if isinstance(body, dict):
        if body.get("message"):
            return str(body["message"])[:300]
        if body.get("errorMessages"):
            return "; ".join(map(str, body["errorMessages"]))[:300]
        if body.get("errors"):
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in body["errors"])[:300]
    return str(body)[:200]


# --------------------------------------------------------------------------- per-integration setup
class BearerToken(AuthBase):
    def __init__(self, token: str, scheme: str = "Bearer"):
        self.token, self.scheme = token, scheme

    def __call__(self, r):
        r.headers["Authorization"] = f"{self.scheme} {self.token}"
        return r


def response_json(resp: requests.Response) -> Any:
    """The response's JSON body, parsed once: with dlt's JSON module (orjson), 2-3x faster
    than requests' decoder on the megabyte pages of GitHub's workflow-run listings. A body
    orjson refuses (a lone surrogate escape, say) goes through the standard decoder."""
    data = getattr(resp, "_sei_json", None)
    if data is None:
        try:
            data = dlt_json.loadb(resp.content)
        except ValueError:
            data = resp.json()
        resp._sei_json = data
    return data


class _RESTClient(RESTClient):
    """dlt's RESTClient, parsing pages with response_json (the body stays readable there)."""

    def extract_response(self, response: requests.Response, data_selector) -> list[Any]:
        response.json = lambda **_: response_json(response)  # what dlt's extract_response reads
        return super().extract_response(response, data_selector)


class Api:
    """One integration's HTTP setup: base URL, auth, headers, a shared pool, the stats."""

    def __init__(self, integration: Integration, base_url: str, runtime: Runtime, stats: HttpStats,
                 auth: AuthBase | None = None, headers: dict[str, str] | None = None,
                 max_in_flight: int | None = None):
        self.integration, self.base_url, self.runtime, self.stats = integration, base_url.rstrip("/"), runtime, stats
        self.auth, self.headers = auth, {"User-Agent": "sei-warehouse (dlt)", **(headers or {})}
        self.gate = RequestGate(max_in_flight)  # shared by every resource's client (one token)
        self._adapter = HTTPAdapter(pool_maxsize=max(8, max_in_flight or 0))
        self._clients: dict[str, RateLimitedClient] = {}
        self._rest: dict[tuple, RESTClient] = {}
        self._lock = threading.Lock()
        # the API's clock (the Date of its latest answer, epoch s; 0 before any): what the
        # GitHub source measures the time between runs by, in the API's own time
        self.server_now = 0.0

    def client(self, resource: str) -> RateLimitedClient:
        with self._lock:
            c = self._clients.get(resource)
            if c is None:
                c = self._clients[resource] = RateLimitedClient(
                    self.integration, resource, self.stats, self.runtime, self._adapter, self.headers, self.gate)
            return c

    def rest(self, resource: str, paginator: BasePaginator | None = None) -> RESTClient:
        """dlt's RESTClient on this resource's session (one per resource; `paginate` copies
        the paginator per call, so sharing it is safe); one per thread, on that thread's session."""
        key = (resource, type(paginator).__name__ if paginator else None, threading.get_ident())
        rc = self._rest.get(key)
        if rc is None or rc.auth is not self.auth:
            rc = self._rest[key] = _RESTClient(base_url=self.base_url, headers=self.headers, auth=self.auth,
                                              paginator=paginator or HeaderLinkPaginator(),
                                              session=self.client(resource).session)
        return rc

    def request(self, resource: str, method: str, url: str, **kw) -> requests.Response:
        if not url.startswith(("http://", "https://")):
            url = self.base_url + "/" + url.lstrip("/")
        resp = self.client(resource).session.request(method, url, auth=self.auth, **kw)
        if resp.headers.get("Date"):
            self.server_now = max(self.server_now, _server_now(resp))
        return resp

    def paginate(self, resource: str, path: str, params: dict | None = None,
                 data_selector: str | None = None) -> Iterator[list[Any]]:
        """Pages of a `Link`-paginated listing (dlt's RESTClient + HeaderLinkPaginator); errors
        are raised by the client above, so dlt's own raise-for-status hook is switched off."""
        rc = self.rest(resource)
        kwargs: dict[str, Any] = {"params": params or {}, "hooks": {"response": []}}
        if data_selector:
            kwargs["data_selector"] = data_selector
        for page in rc.paginate(path, **kwargs):
            yield page
