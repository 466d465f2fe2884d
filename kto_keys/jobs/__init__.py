"""What a person or a program asks for: collect, recover, test keys, export, status.

A job opens a session (pool, cache, clock, saves) and returns its report or raises an error that
carries it. This is the programmatic API; the command line and the menu only call it.
"""
