"""dlt sources for GitHub, Jira, Harness and generic event files, and the pipeline that
loads them into the warehouse's raw_* datasets."""
