"""The command line and the menu: parse, call the jobs, render in Korean or English, exit codes.

Nothing imports this package.
"""
