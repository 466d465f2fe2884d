"""The outside world: HTTP, the SQLite store, the JSON state cache, settings, logs, atomic files.

Edges may import the core, never the jobs or the command line.
"""
