"""GraphQL connections the way GitHub pages them: opaque cursors that carry the sort key and
the record id (`cursor:v2:` + msgpack, base64), and the sorted listings a connection pages
through by cursor.
"""
from __future__ import annotations

import base64
import bisect
import datetime as dt
from functools import partial

from simulator.github_common import msgpack_array
from simulator.github_graphql_schema import GitHubError


CURSOR_PREFIX = b"cursor:v2:"


# --------------------------------------------------------------------------- cursors and pages
def encode_cursor(key) -> str:
    return base64.b64encode(CURSOR_PREFIX + msgpack_array(key)).decode()


def _unpack(b: bytes, i: int):
    t = b[i]
    if t < 0x80:
        return t, i + 1
    if t == 0xCE:
        return int.from_bytes(b[i + 1:i + 5], "big"), i + 5
    if t == 0xCF:
        return int.from_bytes(b[i + 1:i + 9], "big"), i + 9
    if t == 0xD3:
        return int.from_bytes(b[i + 1:i + 9], "big", signed=True), i + 9
    if 0xA0 <= t <= 0xBF or t == 0xD9:
        n, i = (t & 0x1F, i + 1) if t != 0xD9 else (b[i + 1], i + 2)
        return b[i:i + n].decode(), i + n
    raise ValueError(t)


def decode_cursor(text, arg: str) -> tuple:
    try:
        raw = base64.b64decode(str(text), validate=True)
        if not raw.startswith(CURSOR_PREFIX) or not 0x91 <= raw[len(CURSOR_PREFIX)] <= 0x9F:
            raise ValueError(text)
        i, out = len(CURSOR_PREFIX) + 1, []
        for _ in range(raw[len(CURSOR_PREFIX)] & 0x0F):
            v, i = _unpack(raw, i)
            out.append(v)
        if i != len(raw):
            raise ValueError(text)
        return tuple(out)
    except (ValueError, IndexError, UnicodeDecodeError):
        raise GitHubError(f"`{arg}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS") from None


class _Rev:
    """Inverts the order of a non-numeric key, for descending listings."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        return other.v < self.v

    def __eq__(self, other):
        return self.v == other.v


def _neg(v):
    return -v if isinstance(v, int) else _Rev(v)


class Listing:
    """Items in display order with their cursor keys ((sort key, record id) tuples).
    A page starts after the cursor's key, wherever that record is now; never at an offset."""
    __slots__ = ("items", "keys", "desc", "_probe")

    def __init__(self, items: list, keys: list, desc: bool = False):
        self.items, self.keys, self.desc, self._probe = items, keys, desc, None

    def _position(self, cursor, arg: str, right: bool) -> int:
        key = decode_cursor(cursor, arg)
        if self.keys and len(key) != len(self.keys[0]):
            raise GitHubError(f"`{arg}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS")
        if self._probe is None:
            self._probe = [tuple(_neg(v) for v in k) for k in self.keys] if self.desc else self.keys
        probe = tuple(_neg(v) for v in key) if self.desc else key
        try:
            return (bisect.bisect_right if right else bisect.bisect_left)(self._probe, probe)
        except TypeError:  # a cursor from another kind of listing
            raise GitHubError(f"`{arg}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS") from None

    def page(self, first=None, after=None, last=None, before=None, **_) -> dict:
        n = len(self.items)
        lo = self._position(after, "after", True) if after is not None else 0
        hi = self._position(before, "before", False) if before is not None else n
        hi = max(lo, hi)
        if first is not None:
            hi = min(hi, lo + max(first, 0))
        if last is not None:
            lo = max(lo, hi - max(last, 0))
        nodes, keys = self.items[lo:hi], self.keys[lo:hi]
        return {"totalCount": n, "nodes": nodes,
                "pageInfo": {"hasNextPage": hi < n, "hasPreviousPage": lo > 0,
                             "startCursor": _Cursor(keys[0]) if keys else None,
                             "endCursor": _Cursor(keys[-1]) if keys else None},
                "edges": partial(_edges, keys, nodes)}

    def __call__(self, info=None, **args) -> dict:
        return self.page(**args)


class _Cursor:
    """A page boundary's cursor, encoded only if the query asks for it."""
    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __call__(self, info=None, **_):
        return encode_cursor(self.key)


def _edges(keys, nodes, info=None, **_):
    return [{"cursor": encode_cursor(k), "node": v} for k, v in zip(keys, nodes)]


EMPTY = Listing([], [])


def _ts(value, arg: str, field: str = "history") -> int:
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise GitHubError(f"Argument '{arg}' on Field '{field}' has an invalid value ({value}). "
                          f"Expected type 'GitTimestamp'.", None) from None
    return int((t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).timestamp())
