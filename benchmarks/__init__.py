"""Benchmarks that print figures: run `python -m benchmarks.speed`."""
