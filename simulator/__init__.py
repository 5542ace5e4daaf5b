"""A deterministic synthetic engineering organisation served over HTTP in the shapes of
GitHub (GraphQL and REST), Jira (Cloud v3, agile, Data Center v2) and Harness NextGen.

`generate(size, seed)` builds the organisation and its whole history as columnar tables;
`simulator.server` serves it with real pagination, rate limits, auth errors and faults.
"""
from simulator.sizes import SIZES, SizeSpec
from simulator.world import World, generate

__all__ = ["SIZES", "SizeSpec", "World", "generate"]
