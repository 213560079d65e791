"""Benchmarks that print figures: run `python -m benchmarks.speed`.

speed.py runs them and writes the report; machine.py describes the machine, throughput.py times training
epochs, pipeline.py the stages and DVC's commands, inference.py the trained models, and report.py writes
the markdown tables.
"""
