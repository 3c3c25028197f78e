"""Benchmarks run by ``make bench``: measured ratios written to ``benchmarks/results/``."""
