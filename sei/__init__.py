"""The `sei` command line and settings shared by every part of the warehouse."""
