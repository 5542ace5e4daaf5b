"""What the multiprocess executor's fork server loads once, before it forks a process for
each step of a run (orchestration/definitions.py, `executor()`).

Spawned afresh, every step's process would import dagster, dagster-dbt, dbt and dlt again
and build the definitions: about five seconds of CPU a step, and an hourly run has a dozen
steps. Forked from a server that holds them, a step starts in a fraction of a second.
"""
import great_expectations  # noqa: F401 - 4 s to import; each ingest step validates its new rows with it

from orchestration import definitions

definitions.defs  # noqa: B018 - built here (module __getattr__), inherited by every forked step
