"""Benchmark scripts; each prints a table. Run from the repository root: python -m bench.NAME"""
