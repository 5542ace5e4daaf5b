"""Helpers shared by the ingestion and dbt tests."""
from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def environ(**kv):
    """Set (or, with None, unset) environment variables for the block, then restore them."""
    old = {k: os.environ.get(k) for k in kv}
    os.environ.update({k: str(v) for k, v in kv.items() if v is not None})
    for k, v in kv.items():
        if v is None:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

