"""The push path (docs/realtime.md): signed webhooks from GitHub, Jira, Harness and other
tools are verified and spooled by the receiver (`app.py`, `sei webhooks serve`), and applied
to the warehouse in small batches by the `sei_fresh` Dagster job (`apply.py`,
orchestration/fresh.py). The receiver never opens the warehouse."""
