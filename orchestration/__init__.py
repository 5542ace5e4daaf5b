"""Dagster definitions and the jobs that run the warehouse end to end."""
