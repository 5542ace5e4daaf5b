"""On-demand benchmarks (`make bench`); figures go to docs/benchmarks.md."""
