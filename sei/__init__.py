"""The `sei` command line: the top of the project, calling every other package."""
