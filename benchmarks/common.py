"""What the benchmarks share."""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def environ(env: dict[str, str | None]):
    """Set (or, with None, unset) environment variables for the block, then restore them:
    the benchmarks run the project in-process, configured as a user would, by environment."""
    old = {k: os.environ.get(k) for k in env}
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = str(v)
    try:
        yield env
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
