"""Helpers shared by the benchmark modules (not benchmarks themselves: ``run.py`` discovers
only ``benchmarks/*.py``)."""
