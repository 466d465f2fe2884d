"""Benchmarks of kto-keys against the local gateway: run them all with `bench/run.py`."""
